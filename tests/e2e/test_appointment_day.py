"""The appointment experience in real browsers: the agent's live day view, the citizen's
personal link on a phone, the device test ahead, dead links, and cancelling from the message."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from notifications.models import Kind, Notification, State
from portal import citizen as citizen_links
from portal.models import Appointment, Status
from rooms import tokens
from tests.e2e import harness, steps
from tests.e2e.conftest import WAIT, login_agent, watch
from tests.waiting import stays_true_for

pytestmark = pytest.mark.e2e

PARIS = zoneinfo.ZoneInfo("Europe/Paris")  # the structures' zone: the day view shows their today
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
# Counts the day view's alert tones (an oscillator started on the spot, no sound file).
COUNT_BEEPS = """(() => {
  window.gvBeeps = 0;
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) { window.gvBeeps += 1; return start.apply(this, args); };
})();"""


def personal_path(room) -> str:
    return f"/r/{room.slug}/?t={tokens.make(room)}"


def open_day_view(page, base: str, agent) -> None:
    page.add_init_script(COUNT_BEEPS)
    login_agent(page, base, agent, "/admin/day/")
    page.wait_for_url("**/admin/day/", timeout=WAIT)
    page.wait_for_function("() => document.getElementById('gv-day-live').textContent.includes('actives')",
                           timeout=WAIT)


def presence_is(page, appointment_id: int, presence: str) -> None:
    expect(page.locator(f"#appt-{appointment_id}")).to_have_attribute("data-presence", presence, timeout=WAIT)


def is_today(moment: dt.datetime) -> bool:
    return moment.astimezone(PARIS).date() == timezone.now().astimezone(PARIS).date()


def later_today(minutes: int) -> int:
    """`minutes`, or fewer if that would be tomorrow in Paris (the day view shows today)."""
    return minutes if is_today(timezone.now() + dt.timedelta(minutes=minutes)) else 2


def test_personal_link_on_a_phone_to_the_waiting_room_and_the_agents_day_view(server, booked, browsers):
    agent, room = booked
    base = server.base
    day = browsers.open("agent")
    open_day_view(day, base, agent)
    appointment = room.appointment
    presence_is(day, appointment.pk, "")

    # The citizen opens the reminder's personal link on a phone: no name, no code to type.
    phone = browsers.open("citizen", **PHONE)
    day.evaluate("() => { window.gvSameDocument = true; }")
    steps.citizen_follows_link(phone, base + personal_path(room))
    citizen_pid = steps.citizen_waits(phone, room)
    assert phone.evaluate("() => window.innerWidth") == 390
    assert phone.is_visible("#gv-lobby-preview")

    # The day view says so, pushed to the open page (not on a reload), with the visible
    # alert and the tone. (How fast is for bench/, not for an assertion here.)
    presence_is(day, appointment.pk, "waiting")
    assert day.evaluate("() => window.gvSameDocument") is True
    day.wait_for_selector("#gv-day-alert:not([hidden])", timeout=WAIT)
    assert "Jeanne Dupont" in day.text_content("#gv-day-alert")
    assert day.evaluate("() => window.gvBeeps") >= 1
    assert "en salle d’attente" in day.text_content(f"#appt-{appointment.pk}")

    # The agent opens the room (the day view stays open in its tab), writes to the citizen.
    agent_page = day.context.new_page()
    watch(agent_page)
    agent_page.goto(f"{base}/r/{room.slug}/agent/")
    agent_page.wait_for_selector("#gv-call:not([hidden])", timeout=WAIT)
    agent_pid = agent_page.evaluate("JSON.parse(document.getElementById('gv-config').textContent).pid")
    agent_page.click("#gv-btn-people")
    agent_page.fill(f"#gv-note-{citizen_pid}", "Je termine un appel, 5 minutes")
    agent_page.press(f"#gv-note-{citizen_pid}", "Enter")
    phone.wait_for_function(
        "() => document.getElementById('gv-lobby-message').textContent.includes('Je termine un appel, 5 minutes')",
        timeout=WAIT,
    )

    # Admit, send back to the waiting room, admit again: the day view follows each step.
    steps.admit(agent_page, citizen_pid)
    phone.wait_for_selector("#gv-call:not([hidden])", timeout=WAIT)
    steps.assert_media_flows(phone, [agent_pid])
    presence_is(day, appointment.pk, "in_call")
    agent_page.click(f"#gv-people-list li[data-pid='{citizen_pid}'] [data-act='lobby.return']")
    phone.wait_for_selector("#gv-lobby:not([hidden])", timeout=WAIT)
    presence_is(day, appointment.pk, "waiting")
    steps.admit(agent_page, citizen_pid)
    phone.wait_for_selector("#gv-call:not([hidden])", timeout=WAIT)
    steps.assert_media_flows(phone, [agent_pid])
    steps.assert_media_flows(agent_page, [citizen_pid])
    presence_is(day, appointment.pk, "in_call")
    assert steps.foreign_requests(phone, base) == []


def test_dead_personal_links_get_a_clear_page(server, booked, browsers, django_db_blocker):
    agent, room = booked
    phone = browsers.open("citizen", **PHONE)
    with django_db_blocker.unblock():
        over = harness.make_appointment(start_in_minutes=-120)[1]
        Appointment.objects.filter(pk=room.appointment_id).update(status=Status.CANCELLED)
    phone.goto(server.base + personal_path(over))
    assert "Rendez-vous terminé" in phone.text_content("main")
    assert phone.query_selector("#gv-join-form") is None and "/room/" not in phone.url
    answer = phone.goto(server.base + personal_path(room))
    assert answer.status == 410
    assert "Rendez-vous annulé" in phone.text_content("main") and "ne fonctionne plus" in phone.text_content("main")
    assert phone.query_selector("#gv-join-form") is None and "/room/" not in phone.url
    # A token altered by one character is not accepted either: the code is asked instead.
    with django_db_blocker.unblock():
        live = harness.make_appointment()[1]
    token = tokens.make(live)
    phone.goto(f"{server.base}/r/{live.slug}/?t={token[:-2]}{'A' if token[-2] != 'A' else 'B'}{token[-1]}")
    phone.wait_for_selector("#gv-join-form", timeout=WAIT)
    assert "ne peut pas être utilisé" in phone.text_content("main") and "/room/" not in phone.url


def test_device_test_ahead_reports_passed_to_the_day_view(server, browsers, django_db_blocker):
    with django_db_blocker.unblock():
        agent, room = harness.make_appointment(start_in_minutes=later_today(40))
        appointment = room.appointment
        test_path = citizen_links.test_url(appointment).removeprefix(settings.SITE_URL)
    day = browsers.open("agent")
    open_day_view(day, server.base, agent)
    row = f"#appt-{appointment.pk}"
    assert "réussi" not in day.text_content(row)

    phone = browsers.open("citizen", **PHONE)
    phone.goto(server.base + test_path)
    phone.wait_for_selector("#gv-prejoin:not([hidden])", timeout=WAIT)
    phone.evaluate("() => document.getElementById('gv-allow').click()")
    phone.wait_for_function("() => document.getElementById('gv-preview').videoWidth > 0", timeout=WAIT)
    # The connection test: a real WebRTC connection to the media engine, then a verdict.
    phone.wait_for_function("() => document.body.dataset.gvTest", timeout=30_000)
    assert phone.evaluate("() => document.body.dataset.gvTest") == "passed"
    assert "Tout est prêt" in phone.text_content("#gv-result")
    assert "aller-retour" in phone.text_content("#gv-net-status")
    assert phone.text_content("#gv-device-msg") == "La caméra et le micro fonctionnent."  # no "join now" a day ahead
    day.wait_for_function(f"() => document.querySelector('{row}').textContent.includes('réussi')", timeout=WAIT)
    assert steps.foreign_requests(phone, server.base) == [] and steps.csp_errors(phone) == []


def test_cancel_link_cancels_and_voids_the_reminder(server, browsers, django_db_blocker):
    with django_db_blocker.unblock():
        agent, room = harness.make_appointment(start_in_minutes=180)  # online cancellation closes 2 h before
        appointment = room.appointment
        start = appointment.start
        reminder = Notification.objects.get(appointment=appointment, kind=Kind.REMINDER)
        assert reminder.status == State.QUEUED
        manage_path = citizen_links.manage_url(appointment).removeprefix(settings.SITE_URL)
    day = browsers.open("agent")
    open_day_view(day, server.base, agent)
    phone = browsers.open("citizen", **PHONE)
    phone.goto(server.base + manage_path)
    phone.click("text=Annuler mon rendez-vous")
    phone.wait_for_selector("text=Votre rendez-vous est annulé", timeout=WAIT)
    with django_db_blocker.unblock():
        appointment.refresh_from_db()
        reminder.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    assert reminder.status == State.VOIDED and reminder.last_error == "appointment cancelled"
    if is_today(start):  # late in the evening it is tomorrow's: not in today's view
        day.wait_for_function(
            f"() => document.querySelector('#appt-{appointment.pk}')?.textContent.includes('Annulé par l’usager')",
            timeout=WAIT)
    # The room's link is dead now.
    answer = phone.goto(server.base + personal_path(room))
    assert answer.status == 410


def test_audio_only_in_one_tap_from_the_waiting_room_and_back_in_the_call(server, booked, browsers):
    agent, room = booked
    agent_page = browsers.open("agent")
    agent_page.add_init_script(COUNT_BEEPS)
    agent_pid = steps.agent_enters(agent_page, server.base, agent, room)
    phone = browsers.open("citizen", **PHONE)
    steps.citizen_follows_link(phone, server.base + personal_path(room))
    citizen_pid = steps.citizen_waits(phone, room)
    # In the room too, the agent hears and sees that someone is waiting.
    agent_page.wait_for_selector("#gv-waiting:not([hidden])", timeout=WAIT)
    agent_page.wait_for_function("() => window.gvBeeps >= 1", timeout=WAIT)

    # A weak network in the waiting room: one tap, before even entering.
    phone.click("#gv-lobby .gv-audio-only")
    phone.wait_for_selector("#gv-lobby .gv-audio-only[aria-pressed='true']", timeout=WAIT)
    steps.admit(agent_page, citizen_pid)
    phone.wait_for_selector("#gv-call:not([hidden])", timeout=WAIT)
    assert phone.get_attribute("#gv-call .gv-audio-only", "aria-pressed") == "true"
    assert phone.get_attribute("#gv-btn-cam", "aria-pressed") == "true"  # the camera is off
    # Sound flows both ways; no video in either direction.
    before = {"phone": steps.wait_receiving(phone, [agent_pid], frames=-1)[agent_pid],
              "agent": steps.wait_receiving(agent_page, [citizen_pid], frames=-1)[citizen_pid]}

    def no_video_either_way() -> bool:
        return (steps.received_now(phone, agent_pid)["framesDecoded"] - before["phone"]["framesDecoded"] <= 2
                and steps.received_now(agent_page, citizen_pid)["framesDecoded"]
                - before["agent"]["framesDecoded"] <= 2)

    stays_true_for(no_video_either_way, 2.0, interval=0.25, what="no video either way")
    after = {"phone": steps.wait_receiving(phone, [agent_pid], frames=-1,
                                           energy=before["phone"]["audioEnergy"])[agent_pid],
             "agent": steps.wait_receiving(agent_page, [citizen_pid], frames=-1,
                                           energy=before["agent"]["audioEnergy"])[citizen_pid]}

    # The same tap in the call brings the video back, both ways.
    phone.click("#gv-call .gv-audio-only")
    phone.wait_for_selector("#gv-call .gv-audio-only[aria-pressed='false']", timeout=WAIT)
    steps.wait_receiving(phone, [agent_pid], frames=after["phone"]["framesDecoded"] + 10)
    steps.wait_receiving(agent_page, [citizen_pid], frames=after["agent"]["framesDecoded"] + 10)


def test_device_test_on_a_network_that_blocks_the_call_says_what_to_do(server, browsers, django_db_blocker):
    with django_db_blocker.unblock():
        agent, room = harness.make_appointment(start_in_minutes=later_today(40))
        test_path = citizen_links.test_url(room.appointment).removeprefix(settings.SITE_URL)
    day = browsers.open("agent")
    open_day_view(day, server.base, agent)
    phone = browsers.open("citizen", **PHONE)
    phone.route("**/test/offer/", lambda route: route.abort("connectionrefused"))  # as a strict firewall would
    phone.goto(server.base + test_path)
    phone.evaluate("() => document.getElementById('gv-allow').click()")
    phone.wait_for_function("() => document.body.dataset.gvTest", timeout=30_000)
    assert phone.evaluate("() => document.body.dataset.gvTest") == "failed"
    assert "données mobiles" in phone.text_content("#gv-net-status")  # what to try
    assert phone.is_visible("a[href^='tel:']")  # and whom to call
    row = f"#appt-{room.appointment_id}"
    day.wait_for_function(f"() => document.querySelector('{row}').textContent.includes('service vidéo injoignable')",
                          timeout=WAIT)
