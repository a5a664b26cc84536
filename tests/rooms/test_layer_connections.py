"""The channel layer's Redis connections and round trips (rooms/layer.py, issue 22).

channels_redis's pool opened a connection for every command in flight at once and kept it
idle for good: a burst of chats, or the commands failing while Redis restarted, left
hundreds (bench/signalling_load.py: 35 → 563 during the faults, 222 after). Its group_send
took four round trips and a handshake's group adds two each; both are on every socket's path.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import redis
from redis.asyncio.connection import Connection

from rooms import layer as layer_module
from rooms.layer import PoolBusy, ResilientRedisChannelLayer
from tests.e2e.harness import free_port
from tests.rooms.test_presence_processes import private_redis

pytestmark = pytest.mark.services

POOL = 6
BURST = 200  # commands in flight at once, as a process's sockets chatting together


def clients(port: int) -> int:
    with contextlib.closing(redis.Redis(port=port)) as client:
        return int(client.info("clients")["connected_clients"]) - 1  # less this one


async def burst(layer: ResilientRedisChannelLayer, channels: list[str], down: bool = False) -> None:
    """BURST group_send then BURST group_add at once (Redis down: each fails, none is retried)."""
    for results in (
        await asyncio.gather(*(layer.group_send(f"room.{i % 20}", {"type": "chat.message", "n": i})
                               for i in range(BURST)), return_exceptions=down),
        await asyncio.gather(*(layer.group_add(f"room.{i % 20}", channels[i % len(channels)])
                               for i in range(BURST)), return_exceptions=down),
    ):
        assert not down or all(isinstance(r, Exception) for r in results)


def test_connections_stay_bounded_through_bursts_and_a_restart():
    port = free_port()
    layer = ResilientRedisChannelLayer(hosts=[f"redis://127.0.0.1:{port}/0"], prefix="bounded", pool_size=POOL,
                                       capacity=10 * BURST)
    counts: dict[str, int] = {}

    async def scenario(stop, start) -> None:
        channels = [await layer.new_channel() for _ in range(10)]
        for channel in channels:
            await layer.group_add("room.0", channel)
        receiving = asyncio.create_task(layer.receive(channels[0]))  # holds a connection, blocking
        await burst(layer, channels)
        counts["burst"] = clients(port)
        await stop()
        for _ in range(3):  # while it is down, every command of a burst fails
            await burst(layer, channels, down=True)
        await start()
        await layer.wait_until_up()
        await burst(layer, channels)
        counts["after"] = clients(port)
        assert (await asyncio.wait_for(receiving, 10))["type"] == "chat.message"
        await layer.flush()

    with private_redis(port) as first, contextlib.ExitStack() as again:
        async def stop() -> None:
            first.terminate()
            await asyncio.to_thread(first.wait, 10)

        async def start() -> None:
            await asyncio.to_thread(again.enter_context, private_redis(port))

        asyncio.run(scenario(stop, start))
    # POOL, and private_redis's own client (its readiness probe).
    assert counts["burst"] <= POOL + 1
    assert counts["after"] <= counts["burst"]  # no more than before the restart


@pytest.fixture
def round_trips(monkeypatch) -> list[int]:
    """Counts what redis-py writes to Redis: one write per command, or per pipeline."""
    count = [0]
    send = Connection.send_packed_command

    async def counting(self, *args, **kwargs):
        count[0] += 1
        return await send(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "send_packed_command", counting)
    return count


def test_group_send_and_group_adds_take_one_or_two_round_trips(settings, round_trips):
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] + "-rt"
    layer = ResilientRedisChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix)

    async def scenario() -> list[dict]:
        a, b = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("warm", a)  # the pool's connection is opened
        before = round_trips[0]
        await layer.group_add_all(["p.1", "mods.x", "room.x"], a)
        added = round_trips[0] - before
        await layer.group_add("room.x", b)
        before = round_trips[0]
        await layer.group_send("room.x", {"type": "chat.message", "text": "bonjour"})
        sent = round_trips[0] - before
        before = round_trips[0]
        await layer.group_discard_all(["p.1", "mods.x", "room.x"], a)
        left = round_trips[0] - before
        assert (added, sent, left) == (1, 2, 1)
        received = [await asyncio.wait_for(layer.receive(c), 5) for c in (a, b)]
        await layer.group_send("room.x", {"type": "chat.message", "text": "encore"})
        received.append(await asyncio.wait_for(layer.receive(b), 5))
        await layer.flush()
        return received

    received = asyncio.run(scenario())
    assert [m["text"] for m in received] == ["bonjour", "bonjour", "encore"]  # a left the room: not told again
    assert layer.memberships == {"warm": layer.memberships["warm"], "room.x": layer.memberships["room.x"]}


def test_a_pool_kept_busy_is_not_taken_for_an_outage(settings, monkeypatch):
    """Every connection stays in use (a starved process): a command waiting past
    POOL_TIMEOUT fails with PoolBusy, and no recovery starts (it resubscribed every group and
    told every socket: more work for a process already behind)."""
    monkeypatch.setattr(layer_module, "POOL_TIMEOUT", 0.2)
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] + "-busy"
    layer = ResilientRedisChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix, pool_size=2)

    async def scenario() -> None:
        channel = await layer.new_channel()
        holders = [asyncio.create_task(layer.connection(0).blpop([f"{prefix}-nothing-{i}"], timeout=2))
                   for i in range(2)]  # both connections held
        await asyncio.sleep(0.1)
        with pytest.raises(PoolBusy):
            await layer.group_add("room.x", channel)
        await asyncio.gather(*holders)
        await layer.group_add("room.x", channel)  # free again: works
        await layer.flush()

    asyncio.run(scenario())
    assert layer.outages == 0
