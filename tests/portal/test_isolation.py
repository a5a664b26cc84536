"""Structure isolation: an agent of A sees nothing of B, whatever URL is guessed."""

import json

import pytest
from django.urls import reverse

from portal.models import Appointment, Membership, Role, Status
from tests import factories


@pytest.fixture
def b_appointment(structure_b, bob):
    return factories.appointment(structure_b, bob, citizen_last_name="Secretdeb")


@pytest.fixture
def a_appointment(structure_a, alice):
    return factories.appointment(structure_a, alice, citizen_last_name="Visibledea")


def test_lists_show_only_own_structure(client_of, alice, a_appointment, b_appointment):
    page = client_of(alice).get(reverse("admin:portal_appointment_changelist") + "?day=all").content.decode()
    assert "Visibledea" in page and "Secretdeb" not in page
    assert b_appointment.room.join_url not in page


def test_search_does_not_reach_other_structures(client_of, alice, a_appointment, b_appointment):
    response = client_of(alice).get(reverse("admin:portal_appointment_changelist"), {"day": "all", "q": "Secretdeb"})
    assert response.context["cl"].result_count == 0
    assert "Jeanne Secretdeb" not in response.content.decode()


@pytest.mark.parametrize(("view", "codes"), [("change", {404}), ("history", {404}), ("delete", {403, 404})])
def test_detail_urls_guessed_by_id_are_refused(client_of, alice, b_appointment, view, codes):
    url = reverse(f"admin:portal_appointment_{view}", args=[b_appointment.pk])
    response = client_of(alice).get(url)
    assert response.status_code in codes
    assert "Secretdeb" not in response.content.decode()


def test_post_to_other_structures_object_changes_nothing(client_of, alice, b_appointment, structure_a):
    url = reverse("admin:portal_appointment_change", args=[b_appointment.pk])
    response = client_of(alice).post(url, {"citizen_last_name": "Pirate", "structure": structure_a.pk})
    assert response.status_code == 404
    assert Appointment.objects.get(pk=b_appointment.pk).citizen_last_name == "Secretdeb"


def test_actions_cannot_touch_other_structures(client_of, alice, b_appointment):
    client_of(alice).post(
        reverse("admin:portal_appointment_changelist") + "?day=all",
        {"action": "cancel_selected", "_selected_action": [b_appointment.pk]},
    )
    assert Appointment.objects.get(pk=b_appointment.pk).status == Status.SCHEDULED


def test_cannot_book_into_another_structure(client_of, alice, structure_b, bob):
    from tests.portal.test_admin_appointments import form_data

    response = client_of(alice).post(reverse("admin:portal_appointment_add"), form_data(structure_b, bob))
    assert response.status_code == 200
    assert "structure" in response.context["adminform"].form.errors
    assert not Appointment.objects.exists()


def autocomplete(client, field, term=""):
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "portal", "model_name": "appointment", "field_name": field, "term": term},
    )
    return response.status_code, [r["text"] for r in json.loads(response.content or b"{}").get("results", [])]


def test_autocomplete_offers_only_own_structure_and_colleagues(client_of, alice, bob, structure_a, structure_b):
    client = client_of(alice)
    status, structures = autocomplete(client, "structure")
    assert status == 200 and structures == ["Mairie A"]
    status, agents = autocomplete(client, "agent")
    assert status == 200 and "alice" in agents and "bob" not in agents
    assert autocomplete(client, "agent", "bob")[1] == []


@pytest.mark.parametrize(
    "url_name",
    ["admin:portal_structure_change", "admin:portal_structure_history"],
)
def test_other_structure_pages_are_404(client_of, alice, structure_b, url_name):
    assert client_of(alice).get(reverse(url_name, args=[structure_b.pk])).status_code == 404


def test_other_structures_members_and_users_are_hidden(client_of, alice, bob, structure_b):
    client = client_of(alice)
    membership = Membership.objects.get(user=bob)
    assert client.get(reverse("admin:portal_membership_change", args=[membership.pk])).status_code == 404
    assert client.get(reverse("admin:auth_user_change", args=[bob.pk])).status_code in (403, 404)
    page = client.get(reverse("admin:portal_membership_changelist")).content.decode()
    assert "bob" not in page


def test_agent_room_page_of_other_structure_is_404(client_of, alice, b_appointment):
    url = reverse("rooms:agent_room", args=[b_appointment.room.slug])
    assert client_of(alice).get(url).status_code == 404


def test_superuser_sees_all(client, a_appointment, b_appointment):
    admin = factories.UserFactory(is_superuser=True)
    factories.signed_in(client, admin)
    page = client.get(reverse("admin:portal_appointment_changelist") + "?day=all").content.decode()
    assert "Visibledea" in page and "Secretdeb" in page


def test_user_without_membership_sees_nothing(client, a_appointment):
    nobody = factories.UserFactory()
    factories.signed_in(client, nobody)
    assert client.get(reverse("admin:portal_appointment_changelist")).status_code == 403
    assert client.get(reverse("admin:portal_appointment_change", args=[a_appointment.pk])).status_code in (403, 404)


def test_membership_in_both_structures_sees_both(client_of, alice, structure_b, a_appointment, b_appointment):
    Membership.objects.create(user=alice, structure=structure_b, role=Role.HELPDESK)
    page = client_of(alice).get(reverse("admin:portal_appointment_changelist") + "?day=all").content.decode()
    assert "Visibledea" in page and "Secretdeb" in page
    # ...but as helpdesk of B she still cannot change B's appointment.
    url = reverse("admin:portal_appointment_change", args=[b_appointment.pk])
    response = client_of(alice).post(url, {"citizen_last_name": "Changed"})
    assert response.status_code == 403
