"""Shared notes and the visit summary in real browsers (issue 17): the agent and the citizen
type at the same time and end with the same text; the citizen's browser goes offline, types,
comes back and the edits merge; a participant who joins later sees the whole document; the
agent sends the summary and the citizen's email (local SMTP server) and SMS (local
Twilio-speaking server) carry it; its page and PDF open with the personal token only; with
every browser closed and the portal restarted, the notes are intact in the back-office, in
the summary and for someone opening the room (from the server, no other browser alive)."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from itertools import zip_longest
from urllib.parse import urlsplit

import pytest

from notifications.models import VisitSummary
from portal.models import Channel
from rooms.notes.models import NotesDocument
from tests.e2e import harness, steps
from tests.e2e.conftest import WAIT, login_agent
from tests.e2e.test_accessibility import serious_violations
from tests.notifications.servers import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio, SmtpServer
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

EMAIL = "jeanne.dupont@example.org"
PHONE = "+33612345678"
NOTES_TEXT = "() => document.getElementById('gv-notes-text').value"


@pytest.fixture
def providers():
    twilio, smtp = FakeTwilio().start(), SmtpServer().start()
    try:
        yield twilio, smtp
    finally:
        twilio.stop()
        smtp.stop()


def provider_env(twilio: FakeTwilio, smtp: SmtpServer) -> dict[str, str]:
    """The portal sends through the local servers, at once (no worker: tasks run inline)."""
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port), "EMAIL_USE_TLS": "False", "EMAIL_TIMEOUT": "3",
        "NOTIFICATIONS_SMS_BACKEND": "notifications.backends.twilio_sms.TwilioBackend",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE_URL": twilio.url, "CELERY_TASK_ALWAYS_EAGER": "1",
    }


def open_notes(page) -> None:
    page.click("#gv-btn-notes")
    page.wait_for_function("() => window.gvNotes && window.gvNotes.synced", timeout=WAIT)
    page.wait_for_selector("#gv-notes-text:not([disabled])", timeout=WAIT)


def type_at_end(page, text: str) -> None:
    page.focus("#gv-notes-text")
    page.keyboard.press("Control+End")
    page.keyboard.type(text)


def same_notes(pages, *parts: str) -> str:
    """Wait until every page shows the same notes containing `parts`; that text."""
    def agreed() -> bool:
        texts = {page.evaluate(NOTES_TEXT) for page in pages}
        return len(texts) == 1 and all(part in next(iter(texts)) for part in parts)

    wait_until(agreed, WAIT / 1000, interval=0.2,
               what=lambda: f"the same notes with {parts}: {[page.evaluate(NOTES_TEXT) for page in pages]}")
    return pages[0].evaluate(NOTES_TEXT)


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - our server's http URLs
            return answer.status, answer.read(), answer.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, b"", ""


def test_notes_together_offline_late_joiner_summary_and_restart(e2e_db, booked, browsers, providers, tmp_path,
                                                                 django_db_blocker):
    agent, room = booked
    twilio, smtp = providers
    port = harness.free_port()
    env = provider_env(twilio, smtp)
    agent_page = browsers.open("agent")
    citizen = browsers.open("citizen")
    with harness.running_server(e2e_db, tmp_path, port=port, extra_env=env) as first:
        base = first.base
        steps.meet(agent_page, citizen, base, agent, room)
        before = {url for url in citizen.gv_requests if "/vendor/yjs/" in url or "notes" in url}
        assert not before, f"the notes were loaded before being opened: {before}"
        open_notes(agent_page)
        open_notes(citizen)
        assert any("/vendor/yjs/yjs.min.js" in url for url in citizen.gv_requests)  # ours, not a CDN
        notes_files = [url for url in citizen.gv_requests if "notes" in url or "/vendor/yjs/" in url]
        assert all(get(url)[0] == 200 for url in notes_files), notes_files

        # Interleaved keystrokes from both pages.
        agent_page.focus("#gv-notes-text")
        citizen.focus("#gv-notes-text")
        for mine, theirs in zip_longest("Agent: passeport. ", "Citoyenne: RIB. ", fillvalue=""):
            agent_page.keyboard.type(mine)
            citizen.keyboard.type(theirs)
        same_notes([agent_page, citizen], "Agent: passeport.", "Citoyenne: RIB.")
        # The agent's checklist button starts a box on a new line, typing goes on after it.
        agent_page.keyboard.press("Control+End")
        agent_page.click("#gv-notes-checklist")
        agent_page.keyboard.type("carte vitale")
        same_notes([agent_page, citizen], "\n- [ ] carte vitale")

        # The citizen's network goes (the socket with it), she types; the agent types too.
        citizen.context.set_offline(True)
        citizen.evaluate("window.gvDebug.dropConnection()")
        citizen.wait_for_function("() => !window.gvDebug.connected", timeout=WAIT)
        type_at_end(citizen, " Hors ligne: facture EDF.")
        type_at_end(agent_page, " En ligne: rdv suivant le 12.")
        citizen.context.set_offline(False)
        citizen.wait_for_function("() => window.gvDebug.connected", timeout=WAIT)
        text = same_notes([agent_page, citizen], "Hors ligne: facture EDF.", "En ligne: rdv suivant le 12.",
                          "Agent: passeport.", "Citoyenne: RIB.")

        # Read-only for guests: the citizen's field says so and takes no typing; axe on both sides.
        agent_page.click("#gv-notes-lock")
        citizen.wait_for_function("() => document.getElementById('gv-notes-text').readOnly", timeout=WAIT)
        assert citizen.inner_text("#gv-notes-status")
        citizen.focus("#gv-notes-text")
        citizen.keyboard.type("ignoré")
        assert citizen.evaluate(NOTES_TEXT) == text
        assert serious_violations(citizen) == [], "citizen's read-only notes"
        agent_page.click("#gv-notes-lock")
        citizen.wait_for_function("() => !document.getElementById('gv-notes-text').readOnly", timeout=WAIT)

        # A third participant, joining now, gets the whole document (from the server).
        late = browsers.open("late")
        steps.citizen_prejoin(late, base, room)
        steps.submit_join(late, "Paul Martin", room.password)
        late_pid = steps.citizen_waits(late, room)
        steps.admit(agent_page, late_pid)
        late.wait_for_selector("#gv-call:not([hidden])", timeout=WAIT)
        late.set_viewport_size({"width": 390, "height": 844})  # a phone
        open_notes(late)
        assert same_notes([late, agent_page, citizen]) == text
        box = late.locator("#gv-notes-text").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["height"] > 100
        assert serious_violations(late) == [], "notes on a phone"

        for page in (agent_page, citizen, late):
            assert steps.csp_errors(page) == [] and steps.foreign_requests(page, base) == []

        # The agent reads it over and sends it: by email first (the citizen's channel).
        agent_page.click("#gv-btn-notes")  # admitting showed the participants
        agent_page.click("#gv-notes-review")
        assert agent_page.inner_text("#gv-notes-preview").strip() == text.strip()
        assert serious_violations(agent_page) == [], "agent's notes with the summary to send"
        agent_page.click("#gv-notes-send button[type=submit]")
        agent_page.wait_for_function("() => document.getElementById('gv-notes-sent').textContent.includes('@')",
                                     timeout=WAIT)
        wait_until(lambda: smtp.to(EMAIL) and any("Hors ligne" in m.message.get_body(("plain",)).get_content()
                                                 for m in smtp.to(EMAIL)), 10, what="the summary by email")
        mail = [m for m in smtp.to(EMAIL) if "Hors ligne" in m.message.get_body(("plain",)).get_content()][-1]
        body = mail.message.get_body(("plain",)).get_content()
        assert "Citoyenne: RIB." in body and "En ligne: rdv suivant le 12." in body
        (page_url,) = [u for u in re.findall(r"https?://\S+", body) if "/compte-rendu/" in u]

        # Then the citizen prefers SMS: the summary goes again, as a short link.
        with django_db_blocker.unblock():
            room.appointment.__class__.objects.filter(pk=room.appointment.pk).update(preferred_channel=Channel.SMS)
        agent_page.click("#gv-notes-send button[type=submit]")
        agent_page.wait_for_function("() => document.getElementById('gv-notes-sent').textContent.includes('SMS')",
                                     timeout=WAIT)
        wait_until(lambda: twilio.sent_to(PHONE), 10, what="the summary by SMS")
        sms = twilio.sent_to(PHONE)[-1].body
        (short,) = re.findall(r"https?://\S+/j/[A-Za-z0-9]{10}", sms)

        # The citizen opens the SMS's link: the page, then its PDF.
        citizen.goto(short)
        citizen.wait_for_selector("#gv-summary-text", timeout=WAIT)
        assert "Hors ligne: facture EDF." in citizen.inner_text("#gv-summary-text")
        assert "☐ à faire : carte vitale" in " ".join(citizen.inner_text("#gv-summary-text").split())
        assert citizen.inner_text("#gv-summary-until")  # how long it stays available
        assert serious_violations(citizen) == [], "summary page"
        with citizen.expect_download() as download:
            citizen.click("#gv-summary-pdf")
        pdf_path = download.value.path()
        assert open(pdf_path, "rb").read(5) == b"%PDF-"  # noqa: PTH123, SIM115 - a downloaded file
        token_path = urlsplit(citizen.url).path
        assert urlsplit(page_url).path.split("/")[3] == "compte-rendu"
        # Without the personal token, or another one: nothing.
        forged = token_path.replace("/rdv/", "/rdv/x")
        assert get(base + forged)[0] == 404
        assert get(base + forged.replace("/compte-rendu/", "/compte-rendu.pdf"))[0] == 404
        with django_db_blocker.unblock():
            sent = list(VisitSummary.objects.filter(appointment=room.appointment)
                        .values_list("sent_by_name", flat=True))
        assert sent == ["Alice Agent", "Alice Agent"]

    # Every browser closed, the portal restarted.
    for context in browsers.contexts:
        context.close()
    browsers.contexts.clear()
    with harness.running_server(e2e_db, tmp_path, port=port, extra_env=env) as second:
        with django_db_blocker.unblock():
            assert NotesDocument.objects.get(appointment=room.appointment).text == text
        status, page, _type = get(second.base + token_path)
        assert status == 200 and "Hors ligne: facture EDF." in page.decode()
        status, pdf, kind = get(second.base + token_path.replace("/compte-rendu/", "/compte-rendu.pdf"))
        assert status == 200 and kind == "application/pdf" and pdf.startswith(b"%PDF-")
        back_office = browsers.open("agent-again")
        change_page = f"/admin/portal/appointment/{room.appointment.pk}/change/"
        login_agent(back_office, second.base, agent.username, change_page)
        back_office.wait_for_selector("#gv-admin-notes", timeout=WAIT)
        assert "Hors ligne: facture EDF." in back_office.inner_text("#gv-admin-notes")
        # Someone opening the room now gets the notes from the server: no other browser is alive.
        back_office.goto(f"{second.base}/r/{room.slug}/agent/")
        back_office.wait_for_selector("#gv-call:not([hidden])", timeout=WAIT)
        open_notes(back_office)
        assert back_office.evaluate(NOTES_TEXT) == text
