"""The shared notes in the back-office (issue 17): visible on the appointment to the
structure's staff, searchable, sent as the visit summary from there, with the audit of who
sent it when; templates defined by managers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from notifications.models import VisitSummary
from rooms.notes import crdt
from rooms.notes.models import NotesDocument, NotesTemplate
from tests import factories

pytestmark = pytest.mark.django_db
LIST_URL = reverse("admin:portal_appointment_changelist")


def with_notes(structure, agent, text: str):
    appointment = factories.appointment(structure, agent)
    NotesDocument.objects.create(appointment=appointment, state=crdt.seed(text), text=text)
    return appointment


def test_the_structures_staff_see_the_notes_escaped_and_editors_can_send_them(client_of, alice, hugo, bob, structure_a):
    appointment = with_notes(structure_a, alice, "Dossier n° 42 <script>alert(1)</script>")
    url = reverse("admin:portal_appointment_change", args=[appointment.pk])
    page = client_of(alice).get(url).content.decode()
    assert "Dossier n° 42 &lt;script&gt;" in page and "<script>alert(1)" not in page
    assert 'id="gv-send-summary"' in page
    page = client_of(hugo).get(url).content.decode()  # the helpdesk reads, sends nothing
    assert "Dossier n° 42" in page and 'id="gv-send-summary"' not in page
    assert client_of(bob).get(url).status_code == 404  # another structure's


def test_notes_are_searchable(client_of, alice, structure_a):
    found = with_notes(structure_a, alice, "Pièces : passeport biométrique")
    with_notes(structure_a, alice, "Rien à signaler")
    page = client_of(alice).get(LIST_URL, {"day": "all", "q": "biométrique"})
    assert list(page.context["cl"].result_list) == [found]


def test_sending_from_the_back_office_is_audited(client_of, alice, structure_a, django_capture_on_commit_callbacks):
    appointment = with_notes(structure_a, alice, "- [ ] rapporter le formulaire")
    client = client_of(alice)
    with django_capture_on_commit_callbacks(execute=False):
        answer = client.post(reverse("send_summary", args=[appointment.pk]))
    assert answer.status_code == 302
    summary = VisitSummary.objects.get(appointment=appointment)
    assert summary.sent_by == alice and summary.text == "- [ ] rapporter le formulaire"
    page = client.get(reverse("admin:portal_appointment_change", args=[appointment.pk])).content.decode()
    assert 'id="visit_summaries-group"' in page and "Alice Agent" in page


def test_managers_define_templates_agents_do_not(client_of, maude, alice, structure_a):
    add = reverse("admin:rooms_notestemplate_add")
    answer = client_of(maude).post(add, {"structure": structure_a.pk, "subject": "Carte grise",
                                         "text": "# Pièces à fournir\n- [ ] certificat de cession"})
    assert answer.status_code == 302
    assert NotesTemplate.objects.get().subject == "Carte grise"
    assert client_of(alice).get(add).status_code == 403
