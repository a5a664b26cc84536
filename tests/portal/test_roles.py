"""Role rights: agent edits, helpdesk only views, manager manages the structure's agents."""

from django.urls import reverse

from portal.models import Appointment, Membership, Role, Status
from tests import factories
from tests.portal.test_admin_appointments import form_data


def test_helpdesk_sees_appointments_but_cannot_edit_or_act(client_of, hugo, alice, structure_a):
    appointment = factories.appointment(structure_a, alice, citizen_last_name="Vuparhugo")
    client = client_of(hugo)
    # Every day: booked an hour ahead, the appointment falls on tomorrow after 23:00 in Paris.
    listing = client.get(reverse("admin:portal_appointment_changelist"), {"day": "all"})
    assert "Vuparhugo" in listing.content.decode()
    change_url = reverse("admin:portal_appointment_change", args=[appointment.pk])
    page = client.get(change_url)
    assert page.status_code == 200 and appointment.room.join_url in page.content.decode()
    assert client.post(change_url, form_data(structure_a, alice, citizen_last_name="X")).status_code == 403
    assert client.get(reverse("admin:portal_appointment_add")).status_code == 403
    client.post(
        reverse("admin:portal_appointment_changelist"),
        {"action": "cancel_selected", "_selected_action": [appointment.pk]},
    )
    appointment.refresh_from_db()
    assert appointment.status == Status.SCHEDULED and appointment.citizen_last_name == "Vuparhugo"


def test_agent_cannot_manage_members(client_of, alice, structure_a):
    client = client_of(alice)
    assert client.get(reverse("admin:portal_membership_add")).status_code == 403
    response = client.post(
        reverse("admin:portal_membership_add"),
        {"structure": structure_a.pk, "role": "agent", "username": "newbie", "password": "Long-Enough-Pass-42"},
    )
    assert response.status_code == 403
    assert not Membership.objects.filter(user__username="newbie").exists()


def test_manager_adds_a_new_agent_who_can_then_book(client_of, maude, structure_a, client):
    response = client_of(maude).post(
        reverse("admin:portal_membership_add"),
        {
            "structure": structure_a.pk,
            "role": "agent",
            "username": "newbie",
            "first_name": "Nina",
            "last_name": "Nouvelle",
            "email": "nina@mairie-a.example.fr",
            "password": "Long-Enough-Pass-42",  # not a field any more: ignored
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    membership = Membership.objects.get(user__username="newbie")
    assert membership.structure == structure_a and membership.role == Role.AGENT and membership.user.is_staff
    # Invited: the account has no password until its owner chooses one (tests/portal/test_accounts.py).
    assert not membership.user.has_usable_password()
    factories.signed_in(client, membership.user)
    response = client.post(reverse("admin:portal_appointment_add"), form_data(structure_a, membership.user))
    assert response.status_code == 302
    assert Appointment.objects.filter(agent=membership.user).exists()


def test_manager_cannot_add_members_to_another_structure(client_of, maude, structure_b):
    response = client_of(maude).post(
        reverse("admin:portal_membership_add"),
        {"structure": structure_b.pk, "role": "manager", "username": "intrus", "password": "Long-Enough-Pass-42"},
    )
    assert response.status_code == 200
    assert "structure" in response.context["adminform"].form.errors
    assert not Membership.objects.filter(structure=structure_b, user__username="intrus").exists()


def test_manager_edits_own_structure_agent_cannot(client_of, maude, alice, structure_a):
    url = reverse("admin:portal_structure_change", args=[structure_a.pk])
    assert client_of(maude).get(url).status_code == 200
    response = client_of(alice).post(url, {"name": "Renamed"})
    assert response.status_code == 403


def test_manager_cannot_change_own_role(client_of, maude):
    own = Membership.objects.get(user=maude)
    response = client_of(maude).post(reverse("admin:portal_membership_change", args=[own.pk]), {"role": "agent"})
    assert response.status_code == 403
    assert Membership.objects.get(pk=own.pk).role == Role.MANAGER
