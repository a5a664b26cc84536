"""Admission control of room sockets (rooms/admission.py): bounded handshakes per process,
the rest refused at once with `busy` + 4503 and a retry hint; a handshake that takes too
long is abandoned, not left queued."""

from __future__ import annotations

import asyncio
import json
import random
import time

import pytest

from rooms import admission, presence
from rooms.admission import Admission
from rooms.models import Participant
from tests.rooms.conftest import Client, run


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_handshakes_beyond_the_cap_are_refused_until_one_finishes():
    gate = Admission(max_handshakes=2, max_sockets=100, clock=Clock())
    assert gate.enter() and gate.enter()
    assert not gate.enter()
    gate.leave()
    assert gate.enter()
    assert gate.handshakes == 2


def test_open_sockets_beyond_the_cap_are_refused_with_a_long_hint(settings):
    gate = Admission(max_handshakes=10, max_sockets=2, clock=Clock())
    for key in (1, 2):
        assert gate.enter()
        gate.leave()
        gate.opened(key)
    assert not gate.enter()
    assert gate.retry_after() == settings.ROOM_SOCKETS_FULL_RETRY
    gate.closed(1)
    gate.closed(1)  # closing twice counts once
    assert gate.enter()


def test_the_hint_grows_with_what_was_refused_against_the_pace_and_is_bounded(settings):
    clock = Clock()
    gate = Admission(max_handshakes=10, max_sockets=10_000, clock=clock)
    assert gate.retry_after() == 1  # nothing refused: come back soon
    for _ in range(10):
        gate.enter()
    for _ in range(10):
        gate.leave()  # a pace of 10 handshakes in this second
    for _ in range(10):
        gate.enter()
    for _ in range(40):
        assert not gate.enter()
    assert gate.retry_after() == 8  # 40 refused at a pace of 10 done in the last two seconds: 40 / 5 per s
    for _ in range(1000):
        gate.enter()
    assert gate.retry_after() == settings.ROOM_BUSY_MAX_RETRY
    clock.now += 5  # seconds later, the refusals are forgotten
    assert gate.retry_after() == 1


def test_a_crowd_arriving_at_once_is_spread_over_what_the_process_can_do():
    """The other process was killed: its sockets all arrive within a second. The hint is
    their number over the pace this process showed when it was last saturated, not over the
    few it finished in the first moment of the crowd (which gave everyone the maximum)."""
    clock = Clock()
    gate = Admission(max_handshakes=10, max_sockets=10_000, clock=clock)
    for _ in range(60):  # a saturated second: 60 done, some refused
        assert gate.enter()
        gate.leave()
    for _ in range(10):
        gate.enter()
    assert not gate.enter()
    for _ in range(10):
        gate.leave()
    clock.now += 30  # a quiet while
    assert gate.retry_after() == 1
    for _ in range(10):
        gate.enter()
    for _ in range(300):  # the crowd, in its first second: 300 refused, none done yet
        assert not gate.enter()
    assert gate.retry_after() == 5  # 300 / 70 per second, not ROOM_BUSY_MAX_RETRY


@pytest.mark.django_db(transaction=True)
def test_a_saturated_process_refuses_with_busy_and_4503_without_marking_anyone_online(room, citizen, monkeypatch):
    gate = Admission(max_handshakes=0, max_sockets=100)
    monkeypatch.setattr(admission, "ADMISSION", gate)

    async def scenario():
        client = await Client(room.slug, citizen.pid).connect()
        busy = await client.expect("busy")
        assert 1 <= busy["retry_after"] <= 10
        assert await client.closed_with() == 4503

    run(scenario())
    assert Participant.objects.get(pk=citizen.pk).online is False
    assert gate.handshakes == 0 and not gate.sockets


@pytest.mark.django_db(transaction=True)
def test_a_slow_handshake_is_abandoned_as_busy_and_undone(room, citizen, monkeypatch, settings):
    """The database answers slowly (a storm): past ROOM_HANDSHAKE_TIMEOUT the handshake is
    refused as busy instead of running on long after the browser gave up."""
    settings.ROOM_HANDSHAKE_TIMEOUT = 0.5
    gate = Admission(max_handshakes=5, max_sockets=100)
    monkeypatch.setattr(admission, "ADMISSION", gate)
    slow_state = presence.state_of  # the handshake's state (rooms/handshake.py)

    def state(room, pid):
        time.sleep(1.0)
        return slow_state(room, pid)

    monkeypatch.setattr(presence, "state_of", state)

    async def scenario():
        client = await Client(room.slug, citizen.pid).connect()
        assert (await client.expect("busy"))["retry_after"] >= 1
        assert await client.closed_with() == 4503
        await asyncio.sleep(0.6)  # the slow query ends; nothing runs on after it

    run(scenario())
    assert Participant.objects.get(pk=citizen.pk).online is False, "the half-done handshake is undone"
    assert gate.handshakes == 0 and not gate.sockets


@pytest.mark.django_db(transaction=True)
def test_sockets_are_counted_while_open(room, citizen, monkeypatch):
    gate = Admission(max_handshakes=5, max_sockets=100)
    monkeypatch.setattr(admission, "ADMISSION", gate)

    async def scenario():
        client = await Client(room.slug, citizen.pid).connect()
        await client.greeted()
        assert len(gate.sockets) == 1 and gate.handshakes == 0
        await client.close()
        await asyncio.sleep(0.2)

    run(scenario())
    assert not gate.sockets


@pytest.mark.django_db(transaction=True)
def test_a_storm_of_connects_converges_through_busy_refusals(room, monkeypatch):
    """30 participants connect at the same instant to a process that takes 3 handshakes at
    a time: the others are refused BUSY, come back within the hint (scaled down here) and
    all end up connected; no handshake is left counted."""
    gate = Admission(max_handshakes=3, max_sockets=100)
    monkeypatch.setattr(admission, "ADMISSION", gate)
    pids = [presence.enter_as_guest(room, f"Citoyen {n}").pid for n in range(30)]
    refusals = []

    async def arrive(pid) -> Client:
        while True:
            client = await Client(room.slug, pid).connect()
            first = await client.recv()
            if first["type"] == "state":
                return client
            assert first["type"] == "busy", first
            assert await client.closed_with() == 4503
            refusals.append(first["retry_after"])
            await asyncio.sleep(random.random() * first["retry_after"] / 20)  # noqa: S311  (the jitter, faster)

    async def scenario():
        clients = await asyncio.gather(*(arrive(pid) for pid in pids))
        for client in clients:
            await client.close()

    run(scenario())
    assert refusals, "the gate let 30 simultaneous handshakes through"
    assert gate.handshakes == 0
    assert all(1 <= hint <= 10 for hint in refusals)


def test_the_gate_refuses_a_handshake_stalled_anywhere_before_daphne_would_reset_it(monkeypatch, settings):
    """Whatever part of the stack holds a handshake (the session read, the consumer), the gate
    answers BUSY past ROOM_HANDSHAKE_TIMEOUT + 1 s, and the stalled app's late sends go nowhere."""
    from channels.testing import WebsocketCommunicator

    settings.ROOM_HANDSHAKE_TIMEOUT = 0.1
    gate = Admission(max_handshakes=5, max_sockets=100)
    monkeypatch.setattr(admission, "ADMISSION", gate)
    release = asyncio.Event()

    async def stalled(scope, receive, send):
        assert (await receive())["type"] == "websocket.connect"
        await release.wait()  # a database that does not answer
        await send({"type": "websocket.accept"})  # too late: dropped
        await send({"type": "websocket.send", "text": "{}"})

    async def scenario():
        ws = WebsocketCommunicator(admission.gate(stalled), "/ws/rooms/x/")
        assert (await ws.connect(timeout=3))[0]
        assert gate.handshakes == 0
        assert json.loads(await ws.receive_from(timeout=3))["type"] == "busy"
        assert (await ws.receive_output(timeout=3)) == {"type": "websocket.close", "code": 4503}
        release.set()
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()

    run(scenario())
    assert gate.handshakes == 0 and not gate.sockets
