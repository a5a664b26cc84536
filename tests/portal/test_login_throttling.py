"""Back-office sign-in throttling (django-axes): by user, by address, logged, in the admin."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests import factories
from tests.e2e.harness import AGENT_PASSWORD  # UserFactory's password

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/?next=/admin/"


SECOND_STEP = "/comptes/second-facteur/"


def sign_in(client, username: str, password: str, address: str = "203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def second_step(client, user, address: str = "203.0.113.7"):
    """The password was right: the code of the user's app completes the sign-in."""
    return client.post(SECOND_STEP, {"code": factories.next_totp_code(user)}, REMOTE_ADDR=address)


def test_a_user_is_locked_after_the_limit_even_with_the_right_password_until_cool_off(client, alice, caplog):
    caplog.set_level(logging.WARNING, logger="axes")
    limit = settings.AXES_FAILURE_LIMIT
    for attempt in range(limit - 1):
        answer = sign_in(client, "alice", f"wrong-{attempt}")
        assert answer.status_code == 200 and answer.context["form"].errors, attempt  # the usual form error
    answer = sign_in(client, "alice", "wrong-last")
    assert answer.status_code == 429
    assert "Trop de tentatives de connexion" in answer.content.decode()
    assert any("Locking out" in r.getMessage() and "alice" in r.getMessage() for r in caplog.records)
    assert AccessFailureLog.objects.filter(username="alice", ip_address="203.0.113.7").count() == limit

    # The right password is refused too, from this address or any other (locked by user).
    assert sign_in(client, "alice", AGENT_PASSWORD).status_code == 429
    assert sign_in(client, "alice", AGENT_PASSWORD, address="198.51.100.9").status_code == 429
    assert "_auth_user_id" not in client.session

    # Once the cool-off has passed since the last failure, the right password works again
    # (then the second factor).
    factories.totp_device(alice)
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=1))
    answer = sign_in(client, "alice", AGENT_PASSWORD, address="198.51.100.9")
    assert answer.status_code == 302 and answer["Location"] == SECOND_STEP
    assert "_auth_user_id" not in client.session  # not signed in before the second factor
    answer = second_step(client, alice, address="198.51.100.9")
    assert answer.status_code == 302 and answer["Location"] == "/admin/"
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_an_address_trying_many_users_is_locked(client, alice, maude, hugo):
    names = ["alice", "maude", "hugo", "nobody", "admin"]
    for name in names[: settings.AXES_FAILURE_LIMIT]:
        sign_in(client, name, "wrong", address="192.0.2.50")
    # Locked for this address, whichever user: maude's right password is refused there...
    assert sign_in(client, "maude", AGENT_PASSWORD, address="192.0.2.50").status_code == 429
    # ...and works from elsewhere (maude herself failed once only).
    assert sign_in(client, "maude", AGENT_PASSWORD, address="192.0.2.51").status_code == 302


def test_a_success_before_the_limit_resets_the_count(client, alice):
    factories.totp_device(alice)
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "alice", f"wrong-{attempt}")
    assert sign_in(client, "alice", AGENT_PASSWORD).status_code == 302
    assert AccessAttempt.objects.filter(username="alice").exists()  # the password alone resets nothing
    assert second_step(client, alice).status_code == 302  # signed in: both factors
    assert not AccessAttempt.objects.filter(username="alice").exists()
    client.logout()
    assert sign_in(client, "alice", "wrong-again").status_code == 200  # counting from zero


def test_failures_and_lockouts_are_visible_to_superusers_only(client, alice, client_of):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "alice", f"wrong-{attempt}")
    root = get_user_model().objects.create_superuser("root", "root@example.fr", "root-password-123")
    admin_client = client_of(root)
    attempts = admin_client.get("/admin/axes/accessattempt/")
    assert attempts.status_code == 200 and "203.0.113.7" in attempts.content.decode()
    log = admin_client.get("/admin/axes/accessfailurelog/")
    assert log.status_code == 200 and log.content.decode().count("203.0.113.7") >= 1
    # An agent (staff, no model permissions) cannot read them.
    admin_client.logout()
    assert client_of(alice).get("/admin/axes/accessattempt/").status_code == 403
