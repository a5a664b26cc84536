"""The device test page: reached with the citizen's signed link, refused when the link is
bad or the appointment cancelled or over; its connection test is a real WebRTC connection
to the media engine, in a test room of its own, closed by the server after a while."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import aioice.ice
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from django.test import AsyncClient, Client
from django.urls import reverse
from django.utils import timezone

from portal import booking, citizen, devicetest
from rooms.mediabridge import media
from tests import factories
from tests.waiting import wait_until_async


@pytest.fixture
def tomorrow(structure_a, alice):
    return factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(days=1))


def url(appointment, name="device_test") -> str:
    return reverse(name, kwargs={"token": citizen.make_token(appointment)})


def test_page_opens_with_the_signed_link_and_reports_to_the_day_view(client, tomorrow):
    page = client.get(url(tomorrow))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="gv-prejoin"' in html and 'id="gv-net"' in html
    assert f'data-report-url="/r/{tomorrow.room.slug}/device-check/"' in html
    assert f'data-offer-url="{url(tomorrow, "device_test_offer")}"' in html
    # What the page's script reports the day before is what the day view reads.
    answer = client.post(f"/r/{tomorrow.room.slug}/device-check/", json.dumps({"ok": True, "problems": []}),
                         content_type="application/json")
    assert answer.status_code == 200
    tomorrow.room.refresh_from_db()
    assert tomorrow.room.device_ok is True
    # Another browser that never opened the citizen's link cannot report with the slug alone.
    stranger = Client().post(f"/r/{tomorrow.room.slug}/device-check/", json.dumps({"ok": False, "problems": []}),
                             content_type="application/json")
    assert stranger.status_code == 403
    tomorrow.room.refresh_from_db()
    assert tomorrow.room.device_ok is True


def test_bad_cancelled_and_past_links_get_a_clear_page(client, tomorrow, structure_a, alice):
    token = citizen.make_token(tomorrow)
    forged = client.get(reverse("device_test", kwargs={"token": token[:-3] + "abc"}))
    assert forged.status_code == 404 and "Ce lien ne fonctionne pas" in forged.content.decode()
    booking.cancel(tomorrow)
    cancelled = client.get(url(tomorrow))
    assert cancelled.status_code == 410 and "Rendez-vous annulé" in cancelled.content.decode()
    assert 'id="gv-net"' not in cancelled.content.decode()
    past = factories.appointment(structure_a, alice, start=timezone.now() - dt.timedelta(hours=2))
    over = client.get(url(past))
    assert over.status_code == 200 and "Rendez-vous terminé" in over.content.decode()


@pytest.mark.django_db(transaction=True)
def test_offer_endpoint_refuses_bad_input(tomorrow):
    async def scenario():
        client = AsyncClient()
        for body in ["nope", json.dumps({"sdp": 3}), json.dumps({}), json.dumps({"sdp": "x" * 80_000})]:
            answer = await client.post(url(tomorrow, "device_test_offer"), body, content_type="application/json")
            assert answer.status_code == 400
        answer = await client.post(url(tomorrow, "device_test_offer"), json.dumps({"sdp": "v=0\r\ngarbage"}),
                                   content_type="application/json")
        assert answer.status_code == 400 and answer.json()["error"] == "bad_sdp"
        strict = AsyncClient(enforce_csrf_checks=True)
        answer = await strict.post(url(tomorrow, "device_test_offer"), json.dumps({"sdp": "v=0"}),
                                   content_type="application/json")
        assert answer.status_code == 403

    asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
def test_connection_test_reaches_the_engine_alone_and_is_closed_by_the_server(tomorrow, monkeypatch):
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4=True, use_ipv6=False: ["127.0.0.1"])
    monkeypatch.setattr(devicetest, "TEST_SECONDS", 2)

    async def scenario():
        pc = RTCPeerConnection()
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())
        try:
            await pc.setLocalDescription(await pc.createOffer())
            answer = await AsyncClient().post(url(tomorrow, "device_test_offer"),
                                              json.dumps({"sdp": pc.localDescription.sdp}),
                                              content_type="application/json")
            assert answer.status_code == 200 and answer.json()["seconds"] == 2
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.json()["sdp"], type="answer"))
            await wait_until_async(lambda: pc.connectionState == "connected", 10, what="the test's connection")
            engine = media().engine
            stats = engine.stats()
            # Alone in its own room: not the appointment's room, and nothing forwarded to anyone.
            assert stats["rooms"] == 1 and stats["peers"] == 1 and stats["forwarded_tracks"] == 0
            assert f"test.{tomorrow.room.slug}" in engine._rooms and tomorrow.room.slug not in engine._rooms
            await wait_until_async(lambda: engine.stats()["peers"] == 0, 10, what="the server to end the test itself")
        finally:
            await pc.close()
            await media().shutdown()

    asyncio.run(scenario())
