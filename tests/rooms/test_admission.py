"""Admission control of room sockets (rooms/admission.py): bounded handshakes per process,
a short bounded wait for a slot, the rest refused with `busy` + 4503 and a retry hint; a handshake that takes too
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


def saturated_second(gate: Admission, done: int) -> None:
    """`done` handshakes served, then every slot taken and one more refused (the process
    saturated: the second counts for its pace), then the slots freed."""
    for _ in range(done):
        assert gate.enter()
        gate.leave()
    for _ in range(gate.max_handshakes):
        gate.enter()
    assert not gate.enter()
    for _ in range(gate.max_handshakes):
        gate.leave()


def test_a_crowd_arriving_at_once_is_spread_over_what_the_process_can_do():
    """The other process was killed: its sockets all arrive within a second. The hint is
    their number over the pace this process showed when it was last saturated, not over the
    few it finished in the first moment of the crowd (which gave everyone the maximum)."""
    clock = Clock()
    gate = Admission(max_handshakes=10, max_sockets=10_000, clock=clock)
    saturated_second(gate, 60)  # 60 done, some refused
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
def test_a_handshake_slow_after_its_accept_is_not_refused(room, citizen, monkeypatch, settings):
    """Once accepted, the socket has its state coming: slowness after that (telling the room)
    is not a reason to close it BUSY and have the whole handshake done again."""
    from rooms import consumers

    settings.ROOM_HANDSHAKE_TIMEOUT = 0.3
    monkeypatch.setattr(admission, "ADMISSION", Admission(max_handshakes=5, max_sockets=100))
    announce = consumers.announce_async

    async def slow_announce(*args, **kwargs):  # the first step after the accept
        await asyncio.sleep(0.6)
        return await announce(*args, **kwargs)

    monkeypatch.setattr(consumers, "announce_async", slow_announce)

    async def scenario():
        client = await Client(room.slug, citizen.pid).connect()
        assert (await client.greeted())["you"]["pid"] == str(citizen.pid)
        await client.quiet()  # still open, not refused: no `busy`, no close before the pong
        await client.close()

    run(scenario())


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


# --- a short, bounded wait for a slot instead of a refusal (Admission.turn) ---
def test_a_crowd_on_the_survivor_of_a_killed_process_is_paced_at_what_a_core_of_its_own_does():
    """In the storm the process did 25 handshakes a second on half a core (two processes shared
    the machine); the other process then dies and its crowd arrives here: the queue's bound and
    the hint count on the pace per CPU second (50/s), not the 25/s it did while sharing."""
    clock, cpu = Clock(), Clock()
    gate = Admission(max_handshakes=10, max_sockets=10_000, clock=clock, cpu=cpu)
    gate.enter()  # the first second's CPU mark
    for _ in range(3):  # three saturated seconds: 25 done on 0.5 s of CPU each
        clock.now += 1
        saturated_second(gate, 25)
        cpu.now += 0.5
    clock.now += 30  # steady traffic, no crowd
    assert gate.peak == 35 and gate.per_cpu_second == 70  # 35 done a second on 0.5 s of CPU
    for _ in range(10):
        gate.enter()
    for _ in range(300):
        assert not gate.enter()
    assert gate.retry_after() == 5  # 300 / 70, not 300 / 35 (9 s)


def test_a_second_with_little_cpu_says_nothing_of_the_pace_per_cpu_second():
    clock, cpu = Clock(), Clock()
    gate = Admission(max_handshakes=10, max_sockets=10_000, clock=clock, cpu=cpu)
    gate.enter()
    clock.now += 1
    for _ in range(12):  # handshakes finishing on CPU spent before: 12 in 0.01 s
        gate.enter()
        gate.leave()
    for _ in range(10):
        gate.enter()
    assert not gate.enter()
    cpu.now += 0.01
    clock.now += 1
    assert gate.pace() == 12 and gate.per_cpu_second == 0


def test_a_handshake_finding_every_slot_taken_waits_and_gets_the_next_one_in_order():
    async def scenario():
        gate = Admission(max_handshakes=2, max_sockets=100, max_wait=5.0)
        assert await gate.turn() and await gate.turn()
        waiters = [asyncio.create_task(gate.turn()) for _ in range(3)]
        await asyncio.sleep(0.01)
        assert len(gate.waiting) == 3 and not any(w.done() for w in waiters)
        assert not gate.enter(), "an immediate entry does not jump the queue"
        gate.leave()
        await asyncio.sleep(0.01)
        assert [w.done() for w in waiters] == [True, False, False], "first come, first served"
        assert waiters[0].result() is True
        assert gate.handshakes == 2, "the slot was handed over, not freed"
        gate.leave()
        gate.leave()
        assert await waiters[1] and await waiters[2]
        for _ in range(2):
            gate.leave()
        assert gate.handshakes == 0 and not gate.waiting

    asyncio.run(scenario())


def test_beyond_what_the_pace_serves_within_the_wait_handshakes_are_refused_at_once_with_those_waiting_in_the_hint():
    async def scenario():
        clock = Clock()
        gate = Admission(max_handshakes=4, max_sockets=100, max_wait=2.0, clock=clock)
        for _ in range(4):
            assert await gate.turn()
        # pace: max(done 0, peak 0, 4 slots / 2) = 2 per s; 2 s of wait: 4 may wait.
        waiters = [asyncio.create_task(gate.turn()) for _ in range(4)]
        await asyncio.sleep(0.01)
        assert len(gate.waiting) == 4
        assert finishes_without_waiting(gate.turn()) is False, "refused at once, not after waiting"
        assert gate.retry_after() == 3  # (1 refused + 4 waiting) / 2 per s
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        assert not gate.waiting

    asyncio.run(scenario())


def test_a_handshake_that_waited_its_time_without_a_slot_is_refused():
    async def scenario():
        gate = Admission(max_handshakes=1, max_sockets=100, max_wait=0.2)
        assert await gate.turn()
        began = time.monotonic()
        assert await gate.turn() is False
        assert time.monotonic() - began > 0.15  # it waited its time (and came back: not hung)
        assert not gate.waiting and gate.handshakes == 1
        gate.leave()
        assert gate.handshakes == 0

    asyncio.run(scenario())


def test_a_waiter_gone_before_its_turn_does_not_keep_a_slot():
    """The browser hung up while waiting (its task cancelled by Daphne): its place is freed,
    and a slot handed to it just before goes on to the next one."""
    async def scenario():
        gate = Admission(max_handshakes=1, max_sockets=100, max_wait=5.0)
        assert await gate.turn()
        gone, handed, next_one = (asyncio.create_task(gate.turn()) for _ in range(3))
        await asyncio.sleep(0.01)
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
        assert len(gate.waiting) == 2
        gate.leave()  # to `handed`, which is cancelled before it runs
        handed.cancel()
        await asyncio.gather(handed, return_exceptions=True)
        assert await next_one
        assert gate.handshakes == 1 and not gate.waiting
        gate.leave()
        assert gate.handshakes == 0

    asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
def test_a_storm_on_a_gate_that_lets_handshakes_wait_connects_everyone_with_few_refusals(room, monkeypatch):
    """30 participants at the same instant, 3 handshakes at a time, a wait of a few seconds:
    they wait their turn instead of being refused and coming back."""
    gate = Admission(max_handshakes=3, max_sockets=100, max_wait=30.0)  # room for 45 waiting at 1.5/s
    monkeypatch.setattr(admission, "ADMISSION", gate)
    pids = [presence.enter_as_guest(room, f"Citoyen {n}").pid for n in range(30)]

    async def scenario():
        clients = await asyncio.gather(*(Client(room.slug, pid).connect() for pid in pids))
        firsts = [await client.recv() for client in clients]
        for client in clients:
            await client.close()
        return firsts

    firsts = run(scenario())
    assert [m["type"] for m in firsts] == ["state"] * 30
    assert gate.handshakes == 0 and not gate.waiting


def finishes_without_waiting(coroutine):
    """The coroutine's result, asserting that it never suspended (a clock-free "at once")."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise AssertionError("it waited")
