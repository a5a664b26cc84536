"""The visit summary (issue 17): the agent sends the notes in one click; the email carries
the text, the SMS a short link to the summary page; the page and its PDF open with the
citizen's personal token only, say until when, and show no markup typed in the notes;
the back-office keeps who sent it when."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from notifications import shortlinks
from notifications import summary as summaries
from notifications.models import Kind, Notification, State, VisitSummary
from portal import citizen
from portal.models import Channel, Status
from rooms.notes import crdt, store
from rooms.notes.models import NotesDocument
from rooms.notes.text import blocks
from tests.notifications.links import long_link

EMAIL = "jeanne.dupont@example.org"
PHONE = "+33612345678"
NOTES = "# Pièces à fournir\n- [ ] passeport\n- [x] justificatif de domicile\nRéférence <b>AB-12</b> & suite"


def write_notes(appointment, text: str = NOTES) -> None:
    """The notes as the room left them (the server's document)."""
    state = crdt.seed(text)
    NotesDocument.objects.update_or_create(appointment=appointment, defaults={"state": state, "text": text})


def send_as(client, user, appointment, json: bool = True):
    client.force_login(user)
    headers = {"Accept": "application/json"} if json else {}
    return client.post(reverse("send_summary", args=[appointment.pk]), headers=headers)


@pytest.mark.django_db
def test_the_email_carries_the_text_and_the_page_and_pdf_open_with_the_token_only(
        client, providers, book, alice, django_capture_on_commit_callbacks):
    _twilio, smtp = providers
    appointment = book(preferred_channel=Channel.EMAIL)
    write_notes(appointment)
    with django_capture_on_commit_callbacks(execute=True):
        answer = send_as(client, alice, appointment)
    assert answer.status_code == 200 and answer.json()["sent"] is True and EMAIL in answer.json()["message"]
    sent = Notification.objects.get(appointment=appointment, kind=Kind.SUMMARY)
    assert sent.status == State.SENT and sent.requested_by == alice
    audit = VisitSummary.objects.get(appointment=appointment)
    assert audit.sent_by == alice and audit.sent_by_name == "Alice Agent" and audit.text == NOTES

    mail = smtp.to(EMAIL)[-1].message
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "passeport" in body and "Référence <b>AB-12</b> & suite" in body  # plain text, as typed
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "<b>AB-12</b>" not in html and "&lt;b&gt;AB-12&lt;/b&gt;" in html  # never markup
    (url,) = [u for u in re.findall(r"https?://\S+", body) if "/compte-rendu/" in u]
    path = urlsplit(url).path

    client.logout()
    page = client.get(path)
    assert page.status_code == 200 and page["Referrer-Policy"] == "no-referrer"
    content = page.content.decode()
    assert "justificatif de domicile" in content and "&lt;b&gt;AB-12&lt;/b&gt;" in content and "<b>AB-12" not in content
    until = summaries.available_until(appointment)
    assert "gv-summary-until" in content and str(until.astimezone(timezone.get_current_timezone()).year) in content
    pdf = client.get(path.replace("/compte-rendu/", "/compte-rendu.pdf"))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    # Without the token, or with one altered: nothing.
    token = path.split("/")[2]
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "x"):
        assert client.get(reverse("visit_summary", args=[bad])).status_code == 404
        assert client.get(reverse("visit_summary_pdf", args=[bad])).status_code == 404
    # Another appointment's token shows nothing of this one.
    other = book(preferred_channel=Channel.EMAIL, citizen_first_name="Paul")
    assert client.get(reverse("visit_summary", args=[citizen.make_token(other)])).status_code == 404


@pytest.mark.django_db
def test_the_sms_carries_a_short_link_that_outlives_the_room(client, providers, book, alice,
                                                           django_capture_on_commit_callbacks):
    twilio, _smtp = providers
    appointment = book(preferred_channel=Channel.SMS)
    write_notes(appointment)
    with django_capture_on_commit_callbacks(execute=True):
        assert send_as(client, alice, appointment).json()["sent"] is True
    sms = twilio.sent_to(PHONE)[-1]
    assert "compte rendu" in sms.body
    target = long_link(sms.body)
    assert "/compte-rendu/" in target
    code = re.search(r"/j/([A-Za-z0-9]{10})", sms.body).group(1)
    after_the_room = shortlinks.expires_at(appointment) + dt.timedelta(days=1)
    assert shortlinks.target_of(code, now=after_the_room) == target  # the room closed, the summary stays
    assert shortlinks.target_of(code, now=summaries.available_until(appointment)) is None
    client.logout()
    assert client.get(urlsplit(target).path).status_code == 200


@pytest.mark.django_db
def test_only_the_structures_editors_send_and_never_empty_notes(client, book, alice, bob, hugo):
    appointment = book()
    assert send_as(client, bob, appointment).status_code == 404  # another structure's
    assert send_as(client, hugo, appointment).status_code == 404  # the helpdesk changes nothing
    answer = send_as(client, alice, appointment)  # no notes written
    assert answer.status_code == 409 and answer.json()["sent"] is False and "vides" in answer.json()["message"]
    assert not VisitSummary.objects.exists()
    client.logout()
    assert client.post(reverse("send_summary", args=[appointment.pk])).status_code == 302  # to the sign-in


@pytest.mark.django_db
def test_the_page_says_until_when_then_is_gone(client, book, alice):
    appointment = book()
    write_notes(appointment)
    summaries.send(appointment, store.text(appointment), alice)
    token = citizen.make_token(appointment, Channel.EMAIL)
    appointment.start = timezone.now() - dt.timedelta(days=appointment.structure.retention_days + 1)
    appointment.status = Status.DONE
    appointment.save(update_fields=["start", "status"])
    assert client.get(reverse("visit_summary", args=[token])).status_code == 410
    assert client.get(reverse("visit_summary_pdf", args=[token])).status_code == 410


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_any_notes_text_reads_as_one_block_per_written_line(text):
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    read = blocks(text)
    assert len([b for b in read if b.kind != "blank"]) == len([line for line in lines if line.strip()])
    assert all("\n" not in b.text and "\r" not in b.text for b in read)
    assert not read or read[-1].kind != "blank"


@pytest.mark.django_db
@given(st.text(st.characters(blacklist_characters="/", blacklist_categories=("Cs",)), min_size=1, max_size=200))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_token_opens_nothing(client, token):
    for name in ("visit_summary", "visit_summary_pdf"):
        assert client.get(reverse(name, args=[token])).status_code == 404


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_template_text_seeds_notes_that_can_be_edited(text):
    state = crdt.seed(text)
    browser: Doc = Doc()
    notes = browser.get("notes", type=Text)
    browser.apply_update(state)
    before = browser.get_state()
    notes.insert(0, "x")
    assert crdt.merge(state, browser.get_update(before)).text == "x" + crdt.text_of(state)
