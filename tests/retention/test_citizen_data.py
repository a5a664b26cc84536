"""A citizen's data: helpdesk and managers find and export everything their structure holds
about a number or an address (every row, nothing of another structure); only managers
erase; each action leaves an audit line that keeps no address in clear."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
import time_machine
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifications.models import SmsOptOut
from portal import citizendata
from portal.models import Appointment, CitizenDataAudit, WeeklyCount
from tests import factories
from tests.retention.conftest import EMAIL, FIRST, LAST, NATIONAL, PHONE, call, live, remind
from tests.retention.test_purge import CITIZEN, T0, needles, scan

URL = "/admin/citizen-data/"


@pytest.fixture
def two_structures(structure_a, structure_b, alice, twilio, smtp, django_capture_on_commit_callbacks):
    """Jeanne in A (a past call, with everything) and the same number in B (another person)."""
    bob = factories.member(structure_b)
    start = T0 + dt.timedelta(days=2)
    with time_machine.travel(T0, tick=False):
        mine = live(structure_a, alice, start, django_capture_on_commit_callbacks)
        theirs = live(structure_b, bob, start, django_capture_on_commit_callbacks, first="Autre", last="Personne",
                      email="autre.personne@example.org")
    with time_machine.travel(start - dt.timedelta(minutes=14), tick=False):
        remind(django_capture_on_commit_callbacks)
    with time_machine.travel(start + dt.timedelta(minutes=1), tick=False):
        call(mine, alice, django_capture_on_commit_callbacks)
        call(theirs, bob, django_capture_on_commit_callbacks)
    SmsOptOut.objects.create(phone=PHONE, structure=structure_a, keyword="STOP", source="inbound sms")
    SmsOptOut.objects.create(phone=PHONE, structure=structure_b, keyword="STOP", source="inbound sms")
    return mine, theirs


def post(client, structure, term, action="search", **extra):
    # In English: the assertions read the page's words.
    return client.post(URL, {"structure": structure.pk, "term": term, "action": action, **extra},
                       HTTP_ACCEPT_LANGUAGE="en")


def exported_keys(payload: dict) -> set[tuple[str, int]]:
    return {(label, row["id"]) for label, rows in payload["tables"].items() for row in rows}


def rows_about(words, structure_pks: set[int]) -> set[tuple[str, int]]:
    """The generic scan's hits (model, pk) whose row belongs to one of these structures."""
    from django.apps import apps

    from portal import retention

    keys = set()
    for hit in scan(words):
        where, _word = hit.split(": ", 1)
        label_field, pk = where.split(" #")
        label = label_field.rsplit(".", 1)[0]
        model = apps.get_model(label)
        path = retention.PATHS.get(model, "")
        if label == "admin.LogEntry":  # the history of an appointment: its structure's
            entry = model._default_manager.get(pk=pk)
            if Appointment.objects.filter(pk=entry.object_id, structure_id__in=structure_pks).exists():
                keys.add((label, int(pk)))
            continue
        structure_field = f"{path}structure_id" if model is not retention.SmsOptOut else "structure_id"
        if model._default_manager.filter(pk=pk, **{f"{structure_field}__in": structure_pks}).exists():
            keys.add((label, int(pk)))
    return keys


def test_helpdesk_finds_and_exports_every_row_about_the_number_and_nothing_from_elsewhere(
        two_structures, structure_a, structure_b, hugo, client_of):
    mine, theirs = two_structures
    client = client_of(hugo)
    page = post(client, structure_a, NATIONAL)  # as agents type it
    assert page.status_code == 200
    assert b"Export (JSON)" in page.content and b"Erase" not in page.content.split(b"<form")[1]

    payload = json.loads(post(client, structure_a, NATIONAL, "json").content)
    assert payload["searched"] == {"kind": "phone", "value": PHONE}
    keys = exported_keys(payload)
    about_a = rows_about(needles(PHONE, LAST, EMAIL), {structure_a.pk})
    assert about_a and about_a <= keys, about_a - keys
    for table in ("portal.Appointment", "notifications.Notification", "portal.ChangeRequest", "rooms.ChatMessage",
                  "rooms.Participant", "rooms.JoinAttempt", "rooms.IdentityCheck", "notifications.SmsOptOut",
                  "admin.LogEntry", "rooms.NotesDocument", "notifications.VisitSummary"):
        assert payload["tables"].get(table), table
    text = json.dumps(payload)
    assert "Personne" not in text and "autre.personne" not in text
    assert theirs.appointment.pk not in {row["id"] for row in payload["tables"]["portal.Appointment"]}
    assert all(row["structure_id"] == structure_a.pk for row in payload["tables"]["notifications.SmsOptOut"])

    by_email = json.loads(post(client, structure_a, EMAIL.upper(), "json").content)
    assert {row["id"] for row in by_email["tables"]["portal.Appointment"]} == {mine.appointment.pk}

    sheet = list(csv.reader(io.StringIO(post(client, structure_a, PHONE, "csv").content.decode())))
    assert sheet[0] == ["table", "id", "field", "value"]
    assert ["portal.Appointment", str(mine.appointment.pk), "citizen_phone", PHONE] in sheet
    assert {(row[0], int(row[1])) for row in sheet[1:]} == keys

    lines = list(CitizenDataAudit.objects.order_by("pk").values_list("username", "action", "term_kind", "structure"))
    assert lines == [("hugo", "search", "phone", structure_a.pk), ("hugo", "export_json", "phone", structure_a.pk),
                     ("hugo", "export_json", "email", structure_a.pk), ("hugo", "export_csv", "phone", structure_a.pk)]
    assert not [hit for hit in scan(needles(PHONE, EMAIL)) if hit.startswith("portal.CitizenDataAudit")]


def test_only_managers_erase_and_the_other_structure_keeps_its_rows(two_structures, structure_a, structure_b, hugo,
                                                                    maude, client_of):
    mine, theirs = two_structures
    assert post(client_of(hugo), structure_a, PHONE, "erase", confirm="on").status_code == 403
    client = client_of(maude)
    assert b"Erase" in post(client, structure_a, PHONE).content
    unconfirmed = post(client, structure_a, PHONE, "erase")
    assert b"Tick the box" in unconfirmed.content
    assert scan(CITIZEN)

    done = post(client, structure_a, PHONE, "erase", confirm="on")
    assert done.status_code == 200
    left = rows_about(needles(PHONE, NATIONAL.replace(" ", ""), LAST, EMAIL, FIRST + " "), {structure_a.pk})
    assert not left, left
    assert not scan(needles(LAST, EMAIL))  # Jeanne is nowhere, in any table
    assert not SmsOptOut.objects.filter(structure=structure_a).exists()
    assert SmsOptOut.objects.filter(structure=structure_b).exists()
    assert scan(needles("Personne", "autre.personne@example.org"))  # B's citizen is untouched
    assert WeeklyCount.objects.filter(structure=structure_a, metric="held").get().value == 1  # counted first
    assert list(CitizenDataAudit.objects.filter(action="erase").values_list("username", flat=True)) == ["maude"]
    again = json.loads(post(client, structure_a, PHONE, "json").content)
    assert not again["tables"].get("portal.Appointment")


def test_agents_and_other_structures_are_kept_out(two_structures, structure_a, structure_b, alice, client_of):
    assert client_of(alice).get(URL).status_code == 403
    manager_b = factories.member(structure_b, "manager")
    client = client_of(manager_b)
    refused = post(client, structure_a, PHONE, "json")
    assert refused.status_code == 200 and refused["Content-Type"].startswith("text/html")  # no export
    assert b"errornote" in refused.content and b"Mairie A" not in refused.content  # A is not offered
    assert not CitizenDataAudit.objects.exists()


def test_an_upcoming_appointment_is_not_erased(structure_a, alice, maude, client_of,
                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upcoming = factories.appointment(structure_a, alice, citizen_phone=PHONE)
    page = post(client_of(maude), structure_a, PHONE, "erase", confirm="on")
    assert b"still to come" in page.content
    upcoming.refresh_from_db()
    assert upcoming.citizen_phone == PHONE


@pytest.mark.parametrize("bad", ["", "   ", "abc", "06", "jeanne@", "@example.org", "x" * 300, "+33 6 12"])
def test_bad_terms_are_refused_with_a_message(structure_a, hugo, client_of, bad):
    page = post(client_of(hugo), structure_a, bad)
    assert page.status_code == 200 and b"errornote" in page.content
    assert not CitizenDataAudit.objects.exists()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parse_accepts_a_number_or_an_address_or_says_why(raw):
    from portal.models import Structure

    structure = Structure(name="x", time_zone="Europe/Paris")
    try:
        term = citizendata.parse(raw, structure)
    except citizendata.BadTerm as error:
        assert str(error)
        return
    assert term.kind in ("phone", "email")
    if term.kind == "phone":
        assert term.value.startswith("+")
    else:
        assert "@" in term.value and term.value == term.value.lower()
    assert len(term.digest()) == 64


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=60), st.from_regex(r"\+?[0-9 .()-]{0,20}", fullmatch=True), st.emails()))
def test_the_search_page_never_fails_on_what_is_typed(structure_a, hugo, client, raw):
    factories.signed_in(client, hugo)
    page = client.post(URL, {"structure": structure_a.pk, "term": raw, "action": "search"})
    assert page.status_code == 200


def test_the_home_page_links_to_the_pages_for_the_right_roles(structure_a, alice, hugo, maude, client_of):
    index = reverse("admin:index")
    assert b"/admin/citizen-data/" in client_of(hugo).get(index).content
    assert b"/admin/statistics/" not in client_of(hugo).get(index).content
    assert b"/admin/statistics/" in client_of(maude).get(index).content
    assert b"/admin/citizen-data/" not in client_of(alice).get(index).content
