"""The channel layer of the settings holds a burst to one process's sockets: channels_redis
queues every socket of a process in one Redis key and drops what goes past its capacity
(100 by default), which lost admissions and chat in a storm of connects (issue 22)."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer

from rooms.layer import ResilientRedisChannelLayer

pytestmark = pytest.mark.services

SOCKETS = 300  # one busy process's sockets, each told one thing before the process reads


def test_a_burst_to_one_process_s_sockets_is_not_dropped():
    layer = get_channel_layer()
    assert isinstance(layer, ResilientRedisChannelLayer)  # REDIS_URL: the production layer

    async def scenario() -> list[dict]:
        channels = [await layer.new_channel() for _ in range(SOCKETS)]
        for i, channel in enumerate(channels):
            await layer.group_add(f"burst.{i}", channel)
        for i in range(SOCKETS):
            await layer.group_send(f"burst.{i}", {"type": "chat.message", "n": i})
        async with asyncio.timeout(30):
            received = [await layer.receive(channel) for channel in channels]
        await layer.flush()
        return received

    assert [m["n"] for m in asyncio.run(scenario())] == list(range(SOCKETS))


def test_every_socket_is_told_at_recovery_whatever_the_inbox_s_capacity(settings):
    """Redis is back and the process tells each of its sockets. Through Redis, an inbox full
    past its capacity refused the notices beyond it (and, raised out of the recovery, had
    ended every consumer of the process); they are handed to the process's own consumers
    directly now, none through the inbox."""
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] + "-full"
    layer = ResilientRedisChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix, capacity=2)

    async def scenario() -> list[dict]:
        channels = [await layer.new_channel() for _ in range(5)]
        for channel in channels:
            await layer.group_add("call", channel)
        try:
            await layer._recover()  # as after an outage: memberships again, then each told
            async with asyncio.timeout(10):
                return [await layer.receive(channel) for channel in channels]
        finally:
            await layer.flush()

    assert [m["type"] for m in asyncio.run(scenario())] == ["layer.recovered"] * 5
