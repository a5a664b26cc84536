"""Who enters, as whom, in real browsers (rooms/entry.py): the helpdesk comes through the
waiting room and the citizen sees who joined; the agent's buttons (Refuse, Remove, new
code) and the citizen's (camera, view) each clicked; a cookie-less GET of the personal
link binds nothing. The citizen is on a phone."""

from __future__ import annotations

import urllib.request

import pytest
from playwright.sync_api import expect

from portal.models import Role
from rooms.models import Participant, Room
from tests.e2e import harness, steps
from tests.e2e.conftest import WAIT, login_agent
from tests.e2e.test_appointment_day import PHONE, personal_path

pytestmark = pytest.mark.e2e

HELPDESK_LABEL = "Assistance France Services"


def test_the_helpdesk_waits_then_the_citizen_sees_assistance_join_and_the_agent_removes_it(
        server, booked, browsers, django_db_blocker):
    agent, room = booked
    base = server.base
    with django_db_blocker.unblock():
        helpdesk = harness.make_member(room.appointment.structure, Role.HELPDESK, first_name="Hugo",
                                       last_name="Help")
    agent_page = browsers.open("agent")
    agent_pid = steps.agent_enters(agent_page, base, agent, room)
    phone = browsers.open("citizen", **PHONE)
    steps.citizen_follows_link(phone, base + personal_path(room))
    steps.admit(agent_page, steps.citizen_waits(phone, room))
    steps.assert_media_flows(phone, [agent_pid])

    # The helpdesk's way in is the members' page: it lands in the waiting room, not the call.
    desk = browsers.open("helpdesk")
    login_agent(desk, base, helpdesk, f"/r/{room.slug}/agent/")
    helpdesk_pid = steps.citizen_waits(desk, room)
    # The agent sees who waits, with the role; the citizen sees nobody new yet.
    agent_page.wait_for_selector(f"#gv-lobby-list li[data-pid='{helpdesk_pid}']", timeout=WAIT)
    expect(agent_page.locator(f"#gv-lobby-list li[data-pid='{helpdesk_pid}'] .gv-person__role")).to_have_text(
        HELPDESK_LABEL)
    assert phone.query_selector(f".gv-tile[data-pid='{helpdesk_pid}']") is None

    steps.admit(agent_page, helpdesk_pid)
    desk.wait_for_selector("#gv-call:not([hidden])", timeout=WAIT)
    # The citizen is told who joined, and the tile says the role.
    expect(phone.locator("#gv-status")).to_contain_text(f"Hugo Help ({HELPDESK_LABEL})", timeout=WAIT)
    expect(phone.locator(f".gv-tile[data-pid='{helpdesk_pid}'] .gv-tile__role")).to_have_text(HELPDESK_LABEL)
    steps.assert_media_flows(phone, [agent_pid, helpdesk_pid])

    # Remove: the helpdesk is told and out of the call; the citizen's tile goes.
    if agent_page.get_attribute("#gv-btn-people", "aria-expanded") != "true":
        agent_page.click("#gv-btn-people")
    agent_page.once("dialog", lambda dialog: dialog.accept())
    agent_page.click(f"#gv-people-list li[data-pid='{helpdesk_pid}'] [data-act='mod.remove']")
    desk.wait_for_selector("#gv-end:not([hidden])", timeout=WAIT)
    phone.wait_for_selector(f".gv-tile[data-pid='{helpdesk_pid}']", state="detached", timeout=WAIT)
    with django_db_blocker.unblock():
        assert Participant.objects.get(pid=helpdesk_pid).status == "removed"
    # Removed is final: the members' page does not bring them back.
    assert desk.goto(f"{base}/r/{room.slug}/agent/").status == 403


def test_refuse_new_code_camera_and_view_buttons(server, booked, browsers, django_db_blocker):
    agent, room = booked
    base = server.base
    agent_page = browsers.open("agent")
    agent_pid = steps.agent_enters(agent_page, base, agent, room)
    phone = browsers.open("citizen", **PHONE)
    steps.citizen_follows_link(phone, base + personal_path(room))
    citizen_pid = steps.citizen_waits(phone, room)

    # Refuse: someone else with the code waits; the agent refuses them, they are told.
    stranger = browsers.open("stranger")
    stranger.goto(f"{base}/r/{room.slug}/")
    steps.submit_join(stranger, "Paul Martin", room.password)
    stranger_pid = steps.citizen_waits(stranger, room)
    agent_page.wait_for_selector("#gv-waiting:not([hidden])", timeout=WAIT)
    agent_page.click("#gv-btn-people")
    agent_page.wait_for_selector(f"#gv-lobby-list li[data-pid='{stranger_pid}']", timeout=WAIT)
    agent_page.click(f"#gv-lobby-list li[data-pid='{stranger_pid}'] [data-act='lobby.refuse']")
    stranger.wait_for_selector("#gv-end:not([hidden])", timeout=WAIT)
    with django_db_blocker.unblock():
        assert Participant.objects.get(pid=stranger_pid).status == "refused"

    steps.admit(agent_page, citizen_pid)
    steps.assert_media_flows(phone, [agent_pid])
    steps.assert_media_flows(agent_page, [citizen_pid])

    # New code: shown to the agent; the old one no longer opens the room.
    agent_page.click("#gv-btn-info")
    agent_page.click("#gv-new-password")
    agent_page.wait_for_selector("#gv-password-box:not([hidden])", timeout=WAIT)
    new_code = agent_page.text_content("#gv-password").strip()
    with django_db_blocker.unblock():
        fresh = Room.objects.get(pk=room.pk)
        assert new_code != room.password and fresh.check_password(new_code)
        assert not fresh.check_password(room.password)

    # Camera: the citizen stops it; the agent's page learns the camera is off.
    phone.click("#gv-btn-cam")
    phone.wait_for_selector("#gv-btn-cam[aria-pressed='true']", timeout=WAIT)
    agent_page.wait_for_function(
        "(pid) => window.gvDebug.people().find((p) => p.pid === pid)?.video === false", arg=citizen_pid,
        timeout=WAIT)
    # View: the citizen switches the layout to the speaker and back to the tiles.
    phone.click("#gv-btn-view")
    phone.wait_for_selector("#gv-stage.gv-stage--speaker", timeout=WAIT)
    phone.click("#gv-btn-view")
    phone.wait_for_selector("#gv-stage.gv-stage--tiles", timeout=WAIT)


def test_a_cookie_less_get_of_the_personal_link_binds_nothing(server, booked, browsers, django_db_blocker):
    """A link preview or a mail scanner fetches the link without cookies first: the
    citizen's phone afterwards gets in with one click and no code."""
    agent, room = booked
    link = server.base + personal_path(room)
    with urllib.request.urlopen(link, timeout=10) as answer:  # no cookie jar: a new session each time
        assert answer.status == 200
    with urllib.request.urlopen(link, timeout=10) as answer:
        assert answer.status == 200
    with django_db_blocker.unblock():
        assert not Participant.objects.filter(room=room).exists()
    phone = browsers.open("citizen", **PHONE)
    steps.citizen_enters_without_the_code(phone, link, room)
    with django_db_blocker.unblock():
        assert Participant.objects.get(room=room).name == "Jeanne Dupont"
