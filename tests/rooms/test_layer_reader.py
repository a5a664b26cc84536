"""One reader per process for the channel layer's inbox (rooms/layer.py): a socket that
ends while its receive() is waiting loses nobody's message.

channels_redis let whichever receive() came first pop the process's shared inbox for all;
cancelled (its socket closed) after Redis had popped a message but before the reply was
read, it lost that message, addressed to another socket: a "participant.joined" never
reached the socket that had just opened (tests/rooms/test_presence_processes.py, 1 run
in 4 at load 5)."""

from __future__ import annotations

import asyncio

import pytest

from rooms.layer import ResilientRedisChannelLayer

pytestmark = pytest.mark.services

ROUNDS = 40
STEP = 0.00025  # seconds: the rounds cancel the waiting receive from 0 to 10 ms after the send


def layer_for(settings, suffix: str) -> ResilientRedisChannelLayer:
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] + suffix
    return ResilientRedisChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix)


def test_a_socket_ending_mid_receive_loses_no_one_elses_message(settings):
    layer = layer_for(settings, "-reader")

    async def scenario() -> list[int]:
        stays = await layer.new_channel()
        got: list[int] = []
        for n in range(ROUNDS):
            # A socket waiting on the inbox (the one popping Redis, with channels_redis's
            # receive), closed just as a message for the other arrives.
            leaving = await layer.new_channel()
            waiting = asyncio.create_task(layer.receive(leaving))
            await asyncio.sleep(0.02)  # its pop is blocking in Redis
            sending = asyncio.create_task(layer.send(stays, {"type": "chat.message", "n": n}))
            await asyncio.sleep(n * STEP)  # the close lands at another point of the pop each round
            waiting.cancel()
            await asyncio.gather(sending, waiting, return_exceptions=True)
            got.append((await asyncio.wait_for(layer.receive(stays), 5))["n"])
        await layer.flush()
        return got

    assert asyncio.run(scenario()) == list(range(ROUNDS))


def test_what_comes_for_an_ended_channel_is_dropped_not_kept(settings):
    """The reader keeps messages only for channels whose consumer is alive: a late reply
    or a broadcast to a closed socket does not grow the process's buffers."""
    layer = layer_for(settings, "-dropped")

    async def scenario() -> None:
        gone, stays = await layer.new_channel(), await layer.new_channel()
        waiting = asyncio.create_task(layer.receive(gone))
        await asyncio.sleep(0.02)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await layer.send(gone, {"type": "late"})
        await layer.send(stays, {"type": "kept"})
        assert (await asyncio.wait_for(layer.receive(stays), 5))["type"] == "kept"
        assert gone not in layer.receive_buffer
        await layer.flush()

    asyncio.run(scenario())
