"""The device test's limits: one engine peer per link at a time, and a cap on tests at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import aioice.ice
import pytest
from aiortc import RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from django.test import AsyncClient, RequestFactory
from django.urls import reverse
from django.utils import timezone

from portal import citizen, devicetest
from rooms.mediabridge import media
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch):
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4=True, use_ipv6=False: ["127.0.0.1"])


def offer_url(appointment) -> str:
    return reverse("device_test_offer", kwargs={"token": citizen.make_token(appointment)})


async def an_offer() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(VideoStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def post(url: str, sdp: str):
    return await AsyncClient().post(url, json.dumps({"sdp": sdp}), content_type="application/json")


def test_one_link_opens_one_peer_however_many_offers_it_sends_at_once(structure_a, alice):
    appointment = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(days=1))

    async def scenario():
        pc, sdp = await an_offer()
        try:
            # The view itself, twelve times at once on this loop (the test client would pass
            # them one by one through its sync middleware; a real server does not).
            token = citizen.make_token(appointment)
            answers = await asyncio.gather(*(
                devicetest.offer(RequestFactory().post(offer_url(appointment), json.dumps({"sdp": sdp}),
                                                       content_type="application/json"), token)
                for _ in range(12)))
            codes = sorted(a.status_code for a in answers)
            assert codes == [200] + [429] * 11, codes
            refused = next(a for a in answers if a.status_code == 429)
            assert json.loads(refused.content)["error"] == "busy" and refused["Retry-After"]
            assert media().engine.stats()["peers"] == 1
            # Once answered, a new test with the same link (a reload) replaces the last one.
            assert (await post(offer_url(appointment), sdp)).status_code == 200
            assert media().engine.stats()["peers"] == 1
        finally:
            await pc.close()
            await media().shutdown()
            devicetest._running.clear()

    asyncio.run(scenario())


def test_device_tests_at_once_are_capped(structure_a, alice, monkeypatch):
    monkeypatch.setattr(devicetest, "MAX_TESTS", 2)
    appointments = [factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(days=1, hours=h))
                    for h in range(3)]

    async def scenario():
        pc, sdp = await an_offer()
        try:
            first, second, third = [await post(offer_url(a), sdp) for a in appointments]
            assert (first.status_code, second.status_code, third.status_code) == (200, 200, 503)
            assert third.json()["error"] == "busy" and third["Retry-After"]
            assert media().engine.stats()["peers"] == 2
            # A link already testing may start again (it replaces its own peer).
            assert (await post(offer_url(appointments[0]), sdp)).status_code == 200
            assert media().engine.stats()["peers"] == 2
        finally:
            await pc.close()
            await media().shutdown()
            for task in devicetest._running.values():
                task.cancel()
            devicetest._running.clear()

    asyncio.run(scenario())
