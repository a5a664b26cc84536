"""The whole journey in real browsers: agent, citizen, lobby, media both ways, tools, a third
participant, hang-up. Real Daphne, real aiortc media engine, Chromium with fake devices."""

from __future__ import annotations

import pytest

from rooms.models import Room
from tests.e2e import steps
from tests.e2e.conftest import ON_BOTH_MEDIA_SETUPS, WAIT
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, ON_BOTH_MEDIA_SETUPS]


def device_check_of(room, django_db_blocker, timeout: float = 5) -> bool:
    """The room page's device report as the agents' day view reads it, once it is in."""
    with django_db_blocker.unblock():
        def report() -> bool | None:
            return Room.objects.values_list("device_ok", flat=True).get(pk=room.pk)

        wait_until(lambda: report() is not None, timeout, interval=0.1, what="the pre-join's device report")
        return report()


def test_agent_and_citizens_meet(server, booked, browsers, django_db_blocker):
    agent, room = booked
    base = server.base
    agent_page = browsers.open("agent")
    citizen = browsers.open("citizen")
    second = browsers.open("second")

    agent_pid = steps.agent_enters(agent_page, base, agent, room)

    # The citizen opens the link, checks the devices, types a wrong code, then the right one.
    steps.citizen_prejoin(citizen, base, room)
    steps.submit_join(citizen, "Jeanne Dupont", "00000000" if room.password != "00000000" else "11111111")
    citizen.wait_for_selector("#gv-password-error", timeout=WAIT)
    assert citizen.get_attribute("#id_password", "aria-invalid") == "true"
    citizen.wait_for_function("() => document.activeElement.id === 'id_password'", timeout=WAIT)  # focus on it
    assert citizen.input_value("#id_name") == "Jeanne Dupont"  # kept after the error
    steps.submit_join(citizen, "Jeanne Dupont", room.password)
    citizen_pid = steps.citizen_waits(citizen, room)
    # Reported for the agents' day view from the citizen's own session (not the join page's slug).
    assert device_check_of(room, django_db_blocker) is True

    # Waiting room: the citizen learns her place; the agent sends her a note, then lets her in.
    citizen.wait_for_function("() => document.getElementById('gv-lobby-info').textContent.length > 0")
    agent_page.wait_for_selector("#gv-waiting:not([hidden])", timeout=WAIT)
    agent_page.click("#gv-btn-people")
    agent_page.fill(f"#gv-note-{citizen_pid}", "J'arrive dans 2 minutes")
    agent_page.press(f"#gv-note-{citizen_pid}", "Enter")
    citizen.wait_for_function(
        "() => document.getElementById('gv-lobby-message').textContent.includes(\"J'arrive dans 2 minutes\")",
        timeout=WAIT,
    )
    steps.admit(agent_page, citizen_pid)
    citizen.wait_for_selector("#gv-call:not([hidden])", timeout=WAIT)
    assert citizen.is_hidden("#gv-lobby")

    # Both receive the other's video and audio, and growing.
    steps.assert_media_flows(agent_page, [citizen_pid])
    steps.assert_media_flows(citizen, [agent_pid])

    # Chat: the citizen writes, the agent reads (and is told while the panel is closed).
    citizen.keyboard.press("c")
    citizen.wait_for_selector("#gv-chat-text:focus", timeout=WAIT)
    citizen.fill("#gv-chat-text", "Bonjour, je vous entends bien 👍")
    citizen.press("#gv-chat-text", "Enter")
    agent_page.wait_for_function(
        "() => document.getElementById('gv-chat-log').textContent.includes('je vous entends bien 👍')",
        timeout=WAIT,
    )
    assert agent_page.is_visible("#gv-unread")
    assert "Jeanne Dupont" in agent_page.text_content("#gv-chat-log")
    citizen.keyboard.press("Escape")  # closes the panel, focus back on the chat button

    # Raised hand (shortcut H) is seen by the agent, on the tile and in the list.
    citizen.locator("body").press("h")
    assert citizen.get_attribute("#gv-btn-hand", "aria-pressed") == "true"
    agent_page.wait_for_selector(f".gv-tile--hand[data-pid='{citizen_pid}']", timeout=WAIT)

    # The agent mutes the microphone: the citizen sees it on the agent's tile.
    agent_page.click("#gv-btn-mic")
    assert agent_page.get_attribute("#gv-btn-mic", "aria-pressed") == "true"
    citizen.wait_for_selector(f".gv-tile[data-pid='{agent_pid}'] .gv-flag", timeout=WAIT)

    # The agent mutes the citizen (moderator action): her microphone goes off.
    agent_page.click(f"#gv-people-list li[data-pid='{citizen_pid}'] [data-act='mod.mute']")
    citizen.wait_for_function(
        "() => document.getElementById('gv-btn-mic').getAttribute('aria-pressed') === 'true'", timeout=WAIT
    )

    # Identity check: the agent asks, the citizen accepts, the agent gets the result (the
    # fake camera shows no card: "unreadable"), the citizen's request box goes away.
    agent_page.click(f"#gv-people-list li[data-pid='{citizen_pid}'] [data-act='idcheck.start']")
    citizen.wait_for_selector("#gv-idcheck-ask:not([hidden])", timeout=WAIT)
    citizen.click("#gv-idcheck-accept")
    agent_page.wait_for_selector("#gv-idcheck-result .fr-badge", timeout=WAIT)
    assert agent_page.is_visible("[data-panel='idcheck']")
    citizen.wait_for_selector("#gv-idcheck-ask", state="hidden", timeout=WAIT)
    agent_page.click("#gv-btn-people")  # back to the list

    # Both turn their microphones back on (button and shortcut M), seen by the others.
    agent_page.click("#gv-btn-mic")
    citizen.locator("body").press("m")
    assert citizen.get_attribute("#gv-btn-mic", "aria-pressed") == "false"
    citizen.wait_for_selector(f".gv-tile[data-pid='{agent_pid}'] .gv-flag", state="detached", timeout=WAIT)

    # A third participant joins: all three see and hear each other.
    steps.citizen_prejoin(second, base, room)
    steps.submit_join(second, "Paul Martin", room.password)
    second_pid = steps.citizen_waits(second, room)
    steps.admit(agent_page, second_pid)
    second.wait_for_selector("#gv-call:not([hidden])", timeout=WAIT)
    steps.assert_media_flows(second, [agent_pid, citizen_pid])
    steps.assert_media_flows(agent_page, [citizen_pid, second_pid])
    steps.assert_media_flows(citizen, [agent_pid, second_pid])

    # The citizen hangs up: the others stay, the agent sees her leave.
    citizen.click("#gv-call [data-action='leave']")
    citizen.wait_for_selector("#gv-end:not([hidden])", timeout=WAIT)
    agent_page.wait_for_selector(f".gv-tile[data-pid='{citizen_pid}']", state="detached", timeout=WAIT)
    agent_page.wait_for_function(
        "(pid) => !window.gvDebug.people().some((p) => p.pid === pid)", arg=citizen_pid, timeout=WAIT
    )
    steps.assert_media_flows(second, [agent_pid])

    # The agent sends the second citizen back to the waiting room, then lets him in again:
    # his browser drops its connection and offers anew, and the media flows again.
    agent_page.click(f"#gv-people-list li[data-pid='{second_pid}'] [data-act='lobby.return']")
    second.wait_for_selector("#gv-lobby:not([hidden])", timeout=WAIT)
    agent_page.wait_for_selector(f".gv-tile[data-pid='{second_pid}']", state="detached", timeout=WAIT)
    steps.admit(agent_page, second_pid)
    second.wait_for_selector("#gv-call:not([hidden])", timeout=WAIT)
    steps.assert_media_flows(second, [agent_pid])
    steps.assert_media_flows(agent_page, [second_pid])

    # The citizen's pages asked nothing of anyone but the portal; nothing broke the CSP.
    for page in (citizen, second):
        assert steps.foreign_requests(page, base) == []
        assert page.gv_requests, "the request log is empty: the check would prove nothing"
    for page in (agent_page, citizen, second):
        assert steps.csp_errors(page) == []
