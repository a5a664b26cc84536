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


def test_a_full_inbox_at_recovery_does_not_end_the_process_s_consumers(settings, caplog):
    """Redis is back and the process tells each of its sockets: an inbox full past the
    capacity costs the catch-up of the sockets beyond it, not a failed recovery (every
    consumer waiting on it would end, their sockets closed)."""
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] + "-full"
    layer = ResilientRedisChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix, capacity=2)

    async def scenario() -> None:
        for _ in range(5):
            await layer.group_add("call", await layer.new_channel())
        try:
            await layer._recover()  # as after an outage: memberships again, then each told
        finally:
            await layer.flush()

    asyncio.run(scenario())
    assert sum("not told that Redis is back" in r.getMessage() for r in caplog.records) == 3
