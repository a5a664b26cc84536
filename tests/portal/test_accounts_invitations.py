"""Invitations and password reset: nobody's password is typed or seen by someone else, and
every emailed link works once and expires."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from portal.accounts import invitations
from portal.accounts.tokens import invitation_tokens, reset_tokens, uid_of
from portal.models import Invitation, Membership, ResetRequest, Role
from tests import factories
from tests.portal.accounts_steps import ENROL, password_step

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "Un-mot-de-passe-bien-long-2026"  # noqa: S105


def invite(client, structure, username="newbie", email="nina@mairie-a.example.fr", **extra):
    return client.post(reverse("admin:portal_membership_add"), {
        "structure": structure.pk, "role": "agent", "username": username, "first_name": "Nina",
        "last_name": "Nouvelle", "email": email, **extra})


def link_in(message) -> str:
    return re.search(r"https?://\S+", message.body).group(0)


def path_of(url: str) -> str:
    return url.split(settings.SITE_URL, 1)[1]


def test_a_manager_invites_and_the_person_chooses_their_own_password_once(client_of, maude, structure_a):
    client = HttpClient()  # the invited person's browser
    answer = invite(client_of(maude), structure_a, password="Typed-By-The-Manager-1")
    assert answer.status_code == 302
    user = get_user_model().objects.get(username="newbie")
    assert not user.has_usable_password()  # the typed "password" was not a field: ignored
    [message] = mail.outbox
    assert message.to == ["nina@mairie-a.example.fr"] and "Mairie A" in message.subject
    link = path_of(link_in(message))
    assert "newbie" in message.body and "Typed-By-The-Manager-1" not in message.body

    page = client.get(link)
    assert page.status_code == 200 and page.content.decode().count('type="password"') == 2
    answer = client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert answer.status_code == 302 and answer["Location"] == "/admin/login/"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD) and user.invitation.accepted_at is not None
    assert "_auth_user_id" not in client.session  # not signed in by the link: password, then second factor

    assert client.get(link).status_code == 410  # single-use
    assert client.post(link, {"new_password1": "Autre-mot-de-passe-99", "new_password2": "Autre-mot-de-passe-99"}
                       ).status_code == 410
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert password_step(client, "newbie", NEW_PASSWORD)["Location"] == ENROL  # first sign-in: enrolment


def test_an_invitation_needs_an_email_and_a_valid_username(client_of, maude, structure_a):
    answer = invite(client_of(maude), structure_a, email="")
    assert answer.status_code == 200 and "email" in answer.context["adminform"].form.errors
    answer = invite(client_of(maude), structure_a, username="a b/c")
    assert answer.status_code == 200 and "username" in answer.context["adminform"].form.errors
    assert not mail.outbox


def test_an_invitation_expires(client, structure_a, maude):
    user = factories.member(structure_a, Role.AGENT, email="nina@mairie-a.example.fr")
    user.set_unusable_password()
    user.save()
    invitations.invite(user, maude, "Mairie A")
    now = invitation_tokens._num_seconds(invitation_tokens._now())
    old = invitation_tokens._make_token_with_timestamp(user, now - settings.INVITATION_HOURS * 3600 - 1,
                                                       invitation_tokens.secret)
    fresh = invitation_tokens._make_token_with_timestamp(user, now - settings.INVITATION_HOURS * 3600 + 60,
                                                         invitation_tokens.secret)
    assert client.get(reverse("accounts:invitation", args=[uid_of(user), old])).status_code == 410
    assert client.get(reverse("accounts:invitation", args=[uid_of(user), fresh])).status_code == 200
    Invitation.objects.filter(user=user).update(sent_at=timezone.now() - timezone.timedelta(
        hours=settings.INVITATION_HOURS, seconds=1))
    user.refresh_from_db()
    assert user.invitation.state() == "expired"


def test_resend_ends_the_previous_link_and_revoke_ends_the_current_one(client_of, maude, structure_a):
    manager, client = client_of(maude), HttpClient()
    invite(manager, structure_a)
    first = path_of(link_in(mail.outbox[0]))
    membership = Membership.objects.get(user__username="newbie")
    changelist = reverse("admin:portal_membership_changelist")
    assert 'data-account-state="pending"' in manager.get(changelist).content.decode()

    manager.post(changelist, {"action": "resend_invitations", "_selected_action": [membership.pk]})
    second = path_of(link_in(mail.outbox[1]))
    assert client.get(first).status_code == 410 and client.get(second).status_code == 200

    manager.post(changelist, {"action": "revoke_invitations", "_selected_action": [membership.pk]})
    assert client.get(second).status_code == 410
    assert 'data-account-state="revoked"' in manager.get(changelist).content.decode()

    manager.post(changelist, {"action": "resend_invitations", "_selected_action": [membership.pk]})
    third = path_of(link_in(mail.outbox[2]))
    assert client.post(third, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}).status_code == 302
    assert 'data-account-state="active"' in manager.get(changelist).content.decode()


def test_an_agent_cannot_resend_or_revoke(client_of, maude, alice, structure_a):
    invite(client_of(maude), structure_a)
    membership = Membership.objects.get(user__username="newbie")
    answer = client_of(alice).post(reverse("admin:portal_membership_changelist"),
                                   {"action": "revoke_invitations", "_selected_action": [membership.pk]})
    assert answer.status_code in (302, 403)
    assert Invitation.objects.get(user=membership.user).revoked_at is None


# --- nobody types or sees someone else's password ---
PASSWORD_INPUT = re.compile(r"<input[^>]*type=\"password\"", re.I)


def test_no_back_office_page_shows_a_password_field_for_someone_else(client_of, maude, alice, structure_a):
    root = get_user_model().objects.create_superuser("root", "root@example.fr", "root-password-123")
    appointment = factories.appointment(structure_a, alice)
    membership = Membership.objects.get(user=alice)
    pages = [
        reverse("admin:portal_membership_add"), reverse("admin:portal_membership_change", args=[membership.pk]),
        reverse("admin:portal_membership_changelist"), reverse("admin:auth_user_change", args=[alice.pk]),
        reverse("admin:auth_user_changelist"), reverse("admin:portal_structure_change", args=[structure_a.pk]),
        reverse("admin:portal_appointment_change", args=[appointment.pk]), reverse("accounts:security"),
    ]
    for who in (maude, root):
        client = client_of(who)
        for page in pages:
            answer = client.get(page)
            assert answer.status_code in (200, 403, 404), (who, page, answer.status_code)
            assert not PASSWORD_INPUT.search(answer.content.decode()), (who, page)
            assert "pbkdf2" not in answer.content.decode().lower() and "md5$" not in answer.content.decode()


def test_no_view_accepts_a_password_for_someone_else(client_of, alice, structure_a):
    root = get_user_model().objects.create_superuser("root", "root@example.fr", "root-password-123")
    client = client_of(root)
    change_password = reverse("admin:auth_user_password_change", args=[alice.pk])
    assert client.get(change_password).status_code == 404
    answer = client.post(change_password, {"password1": "Chosen-By-Root-123", "password2": "Chosen-By-Root-123",
                                           "usable_password": "true"})
    assert answer.status_code == 404
    assert client.get(reverse("admin:auth_user_add")).status_code == 403
    assert client.post(reverse("admin:auth_user_add"), {"username": "x", "password1": "Chosen-By-Root-123",
                                                        "password2": "Chosen-By-Root-123"}).status_code == 403
    alice.refresh_from_db()
    assert not alice.check_password("Chosen-By-Root-123")
    assert not get_user_model().objects.filter(username="x").exists()


# --- password reset ---
RESET = "/comptes/mot-de-passe/"


def test_reset_answers_the_same_whether_or_not_the_address_is_known(client, alice):
    alice.email = "alice@mairie-a.example.fr"
    alice.save()
    known = client.post(RESET, {"email": "alice@mairie-a.example.fr"})
    unknown = client.post(RESET, {"email": "personne@nulle-part.example.fr"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"]) \
        == (302, "/comptes/mot-de-passe/envoye/")
    assert client.get(known["Location"]).status_code == 200
    assert [m.to for m in mail.outbox] == [["alice@mairie-a.example.fr"]]


def test_reset_end_to_end_once_and_it_ends_every_session(client, client_of, alice):
    alice.email = "alice@mairie-a.example.fr"
    alice.save()
    elsewhere = client_of(alice)  # alice is signed in on another browser
    assert elsewhere.get("/admin/day/").status_code == 200
    from portal.accounts import sessions

    browser = HttpClient()
    browser.post(RESET, {"email": "ALICE@mairie-a.example.fr"})
    link = path_of(link_in(mail.outbox[0]))
    form = browser.get(link, follow=True)
    assert form.context["validlink"]
    set_password = form.redirect_chain[-1][0]
    answer = browser.post(set_password, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert answer.status_code == 302 and answer["Location"] == "/comptes/mot-de-passe/termine/"
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert elsewhere.get("/admin/day/").status_code == 302  # the old session is over
    assert sessions.open_sessions(alice) == []
    again = browser.get(link, follow=True)
    assert not again.context["validlink"]  # single-use


def test_a_reset_link_expires(client, alice):
    now = reset_tokens._num_seconds(reset_tokens._now())
    old = reset_tokens._make_token_with_timestamp(alice, now - settings.PASSWORD_RESET_TIMEOUT - 1, reset_tokens.secret)
    answer = client.get(reverse("accounts:reset_confirm", args=[uid_of(alice), old]), follow=True)
    assert not answer.context["validlink"]
    assert not reset_tokens.check_token(alice, old) and reset_tokens.check_token(alice, reset_tokens.make_token(alice))


def test_reset_requests_are_limited_per_email_silently_and_per_address_openly(client, alice):
    alice.email = "alice@mairie-a.example.fr"
    alice.save()
    for _ in range(settings.PASSWORD_RESET_MAX_PER_EMAIL + 2):
        answer = client.post(RESET, {"email": "alice@mairie-a.example.fr"}, REMOTE_ADDR="198.51.100.1")
        assert answer.status_code == 302  # always the same answer
    assert len(mail.outbox) == settings.PASSWORD_RESET_MAX_PER_EMAIL
    for n in range(settings.PASSWORD_RESET_MAX_PER_ADDRESS):
        client.post(RESET, {"email": f"x{n}@example.fr"}, REMOTE_ADDR="198.51.100.2")
    assert client.post(RESET, {"email": "y@example.fr"}, REMOTE_ADDR="198.51.100.2").status_code == 429
    assert client.post(RESET, {"email": "y@example.fr"}, REMOTE_ADDR="198.51.100.3").status_code == 302
    assert ResetRequest.objects.count() <= settings.PASSWORD_RESET_MAX_PER_ADDRESS + 2 * 10


def test_the_login_page_links_to_the_reset(client):
    assert 'href="/comptes/mot-de-passe/"' in client.get("/admin/login/").content.decode()
