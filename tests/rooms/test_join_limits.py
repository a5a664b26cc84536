"""Room code limits: brute force stays infeasible, yet a stranger cannot lock the citizen out.

Through the real join view and PostgreSQL; time passes by moving the attempts back, the way
the clock would. Addresses reach the view as Daphne gives them: REMOTE_ADDR, plus
X-Forwarded-For as nginx writes it (`$proxy_add_x_forwarded_for`: what the client sent,
then the peer's address).
"""

import datetime as dt
import json
import threading

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client as HttpClient
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from portal.models import Role
from rooms import joinlimits, tokens
from rooms.joinlimits import Limits, decide
from rooms.models import JoinAttempt, Participant
from tests import factories
from tests.rooms.conftest import run

LIMITS = Limits(per_address=5, per_room=20, window=dt.timedelta(minutes=15), slow=dt.timedelta(seconds=60))
NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)


def wrong_code(room) -> str:
    return "00000000" if room.password != "00000000" else "11111111"


def post(client, room, code, address="203.0.113.7", **extra):
    return client.post(f"/r/{room.slug}/", {"name": "Jeanne Dupont", "password": code}, REMOTE_ADDR=address,
                       **extra)


def attack(client, room, addresses: int, prefix="198.18") -> None:
    """One wrong code from each of `addresses` distinct addresses."""
    for n in range(addresses):
        post(client, room, wrong_code(room), address=f"{prefix}.{n // 250}.{n % 250 + 1}")


def age(seconds: float, **filters) -> None:
    """Let time pass for these attempts."""
    for attempt in JoinAttempt.objects.filter(**filters):
        JoinAttempt.objects.filter(pk=attempt.pk).update(at=attempt.at - dt.timedelta(seconds=seconds))


# --- the decision, no I/O ---
def test_decide_locks_an_address_and_slows_only_addresses_that_failed():
    minute = dt.timedelta(minutes=1)
    five = [NOW - k * minute for k in range(5)]
    assert decide(five, 5, NOW, LIMITS).reason == "address_locked"
    assert decide(five, 5, NOW, LIMITS).until == five[-1] + LIMITS.window
    assert not decide(five[:4], 19, NOW, LIMITS).blocked  # the room is not under attack yet
    slowed = decide([NOW], 20, NOW, LIMITS)
    assert slowed.reason == "room_slowed" and slowed.until == NOW + dt.timedelta(seconds=60)
    assert decide([NOW], 40, NOW, LIMITS).until == NOW + dt.timedelta(seconds=120)  # doubling
    assert decide([NOW], 10**9, NOW, LIMITS).until == NOW + LIMITS.window  # capped
    assert not decide([NOW - 2 * minute], 20, NOW, LIMITS).blocked  # waited long enough


@hypothesis_settings(deadline=None)  # a busy CI machine must not fail a correct test
@given(room_failures=st.integers(0, 10**9), failures=st.lists(st.integers(0, 15 * 60 - 1), max_size=30))
def test_decide_never_blocks_a_fresh_address_and_never_waits_past_the_window(room_failures, failures):
    assert not decide([], room_failures, NOW, LIMITS).blocked
    times = sorted((NOW - dt.timedelta(seconds=s) for s in failures), reverse=True)
    verdict = decide(times, room_failures, NOW, LIMITS)
    assert verdict.until is None or NOW < verdict.until <= NOW + LIMITS.window


# --- through the join page ---
def test_many_addresses_do_not_stop_the_right_code_from_a_fresh_address(client, room):
    attack(client, room, 100)
    assert JoinAttempt.objects.filter(outcome="wrong").count() == 100
    response = post(client, room, room.password, address="192.0.2.44")
    assert response.status_code == 302 and response["Location"] == f"/r/{room.slug}/room/"
    assert Participant.objects.get(room=room).name == "Jeanne Dupont"
    # An attacking address trying again is slowed: 100 wrong codes = 4 doublings, capped at 15 min.
    again = post(client, room, wrong_code(room), address="198.18.0.1")
    assert again.status_code == 429 and again.context["lock_reason"] == "room_slowed"
    assert again.context["retry_after_minutes"] == 15 and int(again["Retry-After"]) > 14 * 60
    assert JoinAttempt.objects.filter(outcome="wrong").count() == 100  # a refused try is not even checked


def test_a_citizen_who_mistypes_during_an_attack_gets_in_after_the_delay(client, room):
    attack(client, room, 20)
    mistyped = post(client, room, wrong_code(room), address="192.0.2.44")
    assert mistyped.status_code == 429 and mistyped.context["lock_reason"] == "room_slowed"
    assert 50 <= mistyped.context["retry_after_seconds"] <= 60
    page = mistyped.content.decode()
    assert "Attendez" in page and "lien personnel" in page and "02 38 00 00 00" in page  # French, with help
    assert "not right" not in page and "pas le bon" in page
    too_soon = post(client, room, room.password, address="192.0.2.44")
    assert too_soon.status_code == 429 and not Participant.objects.exists()
    assert JoinAttempt.objects.get(address="192.0.2.44", outcome="refused")  # the day view will say so
    age(61, address="192.0.2.44")
    assert post(client, room, room.password, address="192.0.2.44").status_code == 302


def test_personal_link_works_during_an_attack_and_from_a_locked_address(client, room):
    attack(client, room, 40)
    for _ in range(5):
        post(client, room, wrong_code(room))
    assert post(client, room, room.password).status_code == 429  # this address is locked out
    page = client.get(f"/r/{room.slug}/", {"t": tokens.make(room)}, REMOTE_ADDR="203.0.113.7")
    assert page.status_code == 200 and page.context["personal_token"]
    response = client.post(f"/r/{room.slug}/", {"t": tokens.make(room)}, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 302 and response["Location"] == f"/r/{room.slug}/room/"
    assert Participant.objects.get(room=room).token_id


def test_agent_entry_works_during_an_attack(client, room, alice):
    attack(client, room, 40)
    factories.signed_in(client, alice)
    response = client.get(f"/r/{room.slug}/agent/", REMOTE_ADDR="198.18.0.1")
    assert response.status_code == 302 and Participant.objects.get(user=alice).status == "admitted"


def test_ipv6_addresses_of_one_56_share_the_limit(client, room):
    for n in range(5):  # five /64s of one subscriber's /56
        post(client, room, wrong_code(room), address=f"2001:db8:1:{n}::1")
    locked = post(client, room, room.password, address="2001:db8:1:ff:ffff::9")
    assert locked.status_code == 429 and locked.context["lock_reason"] == "address_locked"
    assert post(client, room, room.password, address="2001:db8:1:100::1").status_code == 302


# --- the client address behind the proxy ---
@pytest.mark.parametrize("trusted", [["127.0.0.1"], ["1"]])
def test_a_spoofed_forwarded_for_does_not_bypass_the_address_limit(client, room, trusted):
    with override_settings(TRUSTED_PROXIES=trusted):
        for n in range(5):  # each time a different forged left-most entry; nginx appends the peer
            post(client, room, wrong_code(room), address="127.0.0.1", HTTP_X_FORWARDED_FOR=f"10.{n}.0.1, 203.0.113.7")
        locked = post(client, room, room.password, address="127.0.0.1",
                      HTTP_X_FORWARDED_FOR="192.0.2.200, 203.0.113.7")
        assert locked.status_code == 429 and locked.context["lock_reason"] == "address_locked"
        assert set(JoinAttempt.objects.values_list("address", flat=True)) == {"203.0.113.7"}
        # Another citizen behind the same proxy is somebody else.
        other = post(client, room, room.password, address="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.5")
        assert other.status_code == 302


def test_without_trusted_proxies_the_forwarded_for_header_is_ignored(client, room):
    with override_settings(TRUSTED_PROXIES=[]):
        for n in range(5):
            post(client, room, wrong_code(room), address="192.0.2.50", HTTP_X_FORWARDED_FOR=f"10.{n}.0.1")
        locked = post(client, room, room.password, address="192.0.2.50", HTTP_X_FORWARDED_FOR="198.51.100.5")
        assert locked.status_code == 429
        assert set(JoinAttempt.objects.values_list("address", flat=True)) == {"192.0.2.50"}


# --- the day view: alert and unlock ---
def day_row(client, appointment) -> str:
    return client.get(reverse("day_row", args=[appointment.pk])).content.decode()


def test_day_view_shows_the_citizen_locked_out_and_unlock_lets_them_in(client, room, hugo):
    appointment = room.appointment
    for _ in range(5):
        post(client, room, wrong_code(room))  # the citizen mistypes, or a neighbour on the same address
    assert post(client, room, room.password).status_code == 429
    helpdesk = HttpClient()
    factories.signed_in(helpdesk, hugo)
    row = day_row(helpdesk, appointment)
    assert 'data-join-alert="refused"' in row and "bon code" in row
    assert "1 connexion bloquée" in row and reverse("day_unlock", args=[appointment.pk]) in row
    page = helpdesk.get(reverse("day")).content.decode()
    assert 'data-join-alert="refused"' in page
    response = helpdesk.post(reverse("day_unlock", args=[appointment.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("day")
    assert "data-join-alert" not in day_row(helpdesk, appointment)
    assert post(client, room, room.password).status_code == 302


def test_day_view_shows_a_room_under_attack_and_unlock_keeps_it_slowed(client, room, alice):
    attack(client, room, 25)
    agent = HttpClient()
    factories.signed_in(agent, alice)
    row = day_row(agent, room.appointment)
    assert 'data-join-alert="attack"' in row and "25 codes erronés depuis 25 adresse" in row
    assert post(client, room, wrong_code(room), address="198.18.0.1").status_code == 429
    assert agent.post(reverse("day_unlock", args=[room.appointment.pk])).status_code == 302
    # The addresses may try again, once: the room's count stays, so a new failure is slowed again.
    assert post(client, room, wrong_code(room), address="198.18.0.1").status_code == 429
    assert JoinAttempt.objects.filter(address="198.18.0.1", outcome="wrong", cleared_at=None).count() == 1
    assert 'data-join-alert="attack"' in day_row(agent, room.appointment)


def test_unlock_is_for_the_structure_only(client, room, bob, structure_a, structure_b):
    for _ in range(5):
        post(client, room, wrong_code(room))
    url = reverse("day_unlock", args=[room.appointment.pk])
    stranger_helpdesk = factories.member(structure_b, Role.HELPDESK)
    for outsider in (bob, stranger_helpdesk):
        other = HttpClient()
        factories.signed_in(other, outsider)
        assert other.post(url).status_code == 404
        assert "data-join-alert" not in other.get(reverse("day")).content.decode()
    assert HttpClient().post(url).status_code == 302  # anonymous: to the login page
    assert not JoinAttempt.objects.exclude(cleared_at=None).exists()
    colleague = HttpClient()
    factories.signed_in(colleague, factories.member(structure_a, Role.AGENT))  # another agent of the structure
    assert colleague.get(url).status_code == 405
    assert colleague.post(url).status_code == 302
    assert not JoinAttempt.objects.filter(cleared_at=None).exists()


# --- concurrency and live updates (real PostgreSQL transactions, real channel layer) ---
def test_parallel_tries_from_one_address_cannot_overshoot_the_limit(transactional_db, structure_a, alice):
    room = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(minutes=5)).room
    barrier = threading.Barrier(12)
    errors = []

    def one_try():
        try:
            barrier.wait(timeout=30)
            joinlimits.attempt(room, "203.0.113.7", wrong_code(room))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=one_try) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert JoinAttempt.objects.filter(room=room, outcome="wrong").count() == 5


def test_the_day_view_hears_when_a_right_code_is_refused(transactional_db, structure_a, hugo, alice):
    appointment = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(minutes=10))
    room = appointment.room
    for _ in range(5):
        joinlimits.attempt(room, "203.0.113.7", wrong_code(room))
    http = HttpClient()
    factories.signed_in(http, hugo)
    cookie = f"{settings.SESSION_COOKIE_NAME}={http.cookies[settings.SESSION_COOKIE_NAME].value}"

    async def scenario():
        from asgiref.sync import sync_to_async

        from portal.asgi import application

        day = WebsocketCommunicator(application, "/ws/day/", headers=[
            (b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie.encode())])
        assert (await day.connect(timeout=5))[0]
        result = await sync_to_async(joinlimits.attempt)(room, "203.0.113.7", room.password)
        assert not result.entered and result.verdict.reason == "address_locked"
        event = json.loads(await day.receive_from(timeout=5))
        assert event == {"type": "day.changed", "appointment": appointment.pk, "what": "join_refused"}
        await sync_to_async(joinlimits.unlock)(room, hugo)
        assert json.loads(await day.receive_from(timeout=5))["what"] == "join_unlocked"
        await day.disconnect()

    run(scenario())
