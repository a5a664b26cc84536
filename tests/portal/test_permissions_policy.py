"""Permissions-Policy: camera, microphone, screen capture only on the pages that use them."""

from __future__ import annotations

import pytest
from django.utils import timezone

from portal.citizen import make_token
from rooms import tokens
from tests import factories

pytestmark = pytest.mark.django_db

DENIED = "camera=(), microphone=(), display-capture=(), geolocation=(), payment=(), usb=()"
CALL = "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), usb=()"
DEVICES = "camera=(self), microphone=(self), display-capture=(), geolocation=(), payment=(), usb=()"


@pytest.fixture
def appointment(structure_a, alice):
    return factories.appointment(structure_a, alice, start=timezone.now() + timezone.timedelta(minutes=5))


def test_capture_is_allowed_only_on_the_join_call_and_device_test_pages(client, client_of, appointment, alice):
    room = appointment.room
    token = make_token(appointment)
    join = client.get(f"/r/{room.slug}/")
    assert join.status_code == 200 and join["Permissions-Policy"] == DEVICES
    personal = client.get(f"/r/{room.slug}/?t={tokens.make(room)}")  # the personal link's page
    assert personal.status_code == 200 and personal["Permissions-Policy"] == DEVICES
    entered = client.post(f"/r/{room.slug}/", {"t": tokens.make(room)})  # its button
    assert entered.status_code == 302
    call = client.get(f"/r/{room.slug}/room/")
    assert call.status_code == 200 and call["Permissions-Policy"] == CALL
    device_test = client.get(f"/rdv/{token}/test/")
    assert device_test.status_code == 200 and device_test["Permissions-Policy"] == DEVICES
    for path in (f"/rdv/{token}/", "/admin/login/", "/jsi18n/", "/healthz"):
        answer = client.get(path)
        assert answer.status_code == 200 and answer["Permissions-Policy"] == DENIED, path
    agent = client_of(alice)
    for path in ("/admin/", "/admin/day/", "/admin/portal/appointment/"):
        answer = agent.get(path)
        assert answer.status_code == 200 and answer["Permissions-Policy"] == DENIED, path
    # The agent's entry redirects to the call page, which allows screen sharing.
    assert agent.get(f"/r/{room.slug}/agent/", follow=True)["Permissions-Policy"] == CALL


def test_errors_deny_capture_too(client):
    answer = client.get("/r/no-such-room/")
    assert answer.status_code == 404 and answer["Permissions-Policy"] == DENIED
