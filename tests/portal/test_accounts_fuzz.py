"""Property-based fuzzing of every input the accounts add: emailed links' uid and token,
the second factor's code, the reset form's address, the new member form, session ids.
Whatever comes in: no server error, nothing accepted that should not be, same answers."""

from __future__ import annotations

import time

import pytest
from django.core import mail
from django.test import Client as HttpClient
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from portal.accounts import invitations, secondfactor
from portal.accounts.tokens import invitation_tokens, uid_of
from portal.models import Membership, Role
from tests import factories
from tests.portal.accounts_steps import SECOND, password_step

pytestmark = pytest.mark.django_db
FUZZ = hypothesis_settings(deadline=None, max_examples=40,  # a busy CI machine must not fail a correct test
                           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
url_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%\x00"), min_size=1,
                   max_size=120)
link_parts = st.one_of(url_text, st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True),
                       st.from_regex(r"[a-z0-9]{1,8}-[0-9a-f]{1,40}", fullmatch=True))


@pytest.fixture
def invited(structure_a, maude):
    user = factories.member(structure_a, Role.AGENT, email="nina@mairie-a.example.fr")
    user.set_unusable_password()
    user.save()
    invitations.invite(user, maude, "Mairie A")
    return user


@FUZZ
@given(uid=link_parts, token=link_parts)
def test_invitation_links_accept_only_the_real_token(invited, uid, token):
    client = HttpClient()
    real = invitation_tokens.make_token(invited)
    answer = client.get(reverse("accounts:invitation", args=[uid, token]))
    accepted = uid == uid_of(invited) and token == real
    assert answer.status_code == (200 if accepted else 410)
    answer = client.post(reverse("accounts:invitation", args=[uid, token]),
                         {"new_password1": "Un-mot-de-passe-bien-long-2026", "new_password2": "x"})
    assert answer.status_code in ((200,) if accepted else (410,))  # mismatch: the form says so, nothing set
    invited.refresh_from_db()
    assert not invited.has_usable_password()


@FUZZ
@given(uid=link_parts, token=link_parts)
def test_reset_links_accept_no_forged_token(alice, uid, token):
    answer = HttpClient().get(reverse("accounts:reset_confirm", args=[uid, token]), follow=True)
    assert answer.status_code == 200 and not answer.context["validlink"]


@FUZZ
@given(code=st.one_of(st.text(max_size=40), st.from_regex(r"[0-9 ]{1,12}", fullmatch=True),
                      st.from_regex(r"[a-z2-7]{8}", fullmatch=True)))
def test_the_second_factor_accepts_only_the_apps_code_or_a_recovery_code(alice, code):
    from axes.models import AccessAttempt

    AccessAttempt.objects.all().delete()  # each example starts unlocked
    device = factories.totp_device(alice)
    recovery = set(secondfactor.new_recovery_codes(alice))
    client = HttpClient()
    password_step(client, "alice", address="192.0.2.200")
    now = time.time()
    window = {factories.totp_code(device, at=now + (device.drift + d) * device.step) for d in (-1, 0, 1)}
    answer = client.post(SECOND, {"code": code}, REMOTE_ADDR="192.0.2.200")
    assert answer.status_code in (200, 302)
    signed_in = "_auth_user_id" in client.session
    assert signed_in == (answer.status_code == 302)
    if signed_in:  # only the app's codes the server's window holds now, or one of the recovery codes
        assert secondfactor.normalise(code) in window | recovery


@FUZZ
@given(email=st.one_of(st.emails(), st.text(max_size=300)))
def test_the_reset_form_answers_the_same_to_any_address(alice, email):
    mail.outbox.clear()
    answer = HttpClient().post("/comptes/mot-de-passe/", {"email": email}, REMOTE_ADDR="192.0.2.201")
    assert answer.status_code in (200, 302, 429)
    if answer.status_code == 302:
        assert answer["Location"] == "/comptes/mot-de-passe/envoye/"
    elif answer.status_code == 200:
        assert answer.context["form"].errors  # not an address: the form says so
    assert not mail.outbox  # alice has no email: nobody gets anything
    from portal.models import ResetRequest

    ResetRequest.objects.all().delete()


@FUZZ
@given(username=st.text(max_size=200), email=st.one_of(st.emails(), st.text(max_size=80)),
       first=st.text(max_size=200), role=st.sampled_from(["agent", "manager", "helpdesk", "root", ""]))
def test_the_new_member_form_creates_only_valid_invited_accounts(client_of, maude, structure_a, username, email,
                                                                  first, role):
    answer = client_of(maude).post(reverse("admin:portal_membership_add"), {
        "structure": structure_a.pk, "role": role, "username": username, "first_name": first, "email": email,
        "password": "Chosen-By-The-Manager-1"})
    assert answer.status_code in (200, 302)
    for membership in Membership.objects.filter(structure=structure_a).exclude(user=maude).select_related("user"):
        assert not membership.user.has_usable_password()  # invited, never a password typed by the manager
        assert membership.role in ("agent", "manager", "helpdesk")


@FUZZ
@given(pk=st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_closing_a_session_by_any_id_closes_only_ones_own(client_of, alice, bob, pk):
    theirs = factories.signed_in(HttpClient(), bob)
    mine = client_of(alice)
    path = f"/comptes/securite/sessions/{pk}/fermer/"  # a negative id matches no route: 404
    answer = mine.post(path)
    assert answer.status_code in (302, 404)
    assert theirs.get("/admin/day/").status_code == 200
