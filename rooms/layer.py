"""channels_redis, surviving a Redis restart (settings: CHANNEL_LAYERS, when REDIS_URL is set).

Plain channels_redis raises out of `receive()` when Redis goes away: every consumer of the
process then dies, its socket closed with 1011, and the browsers all come back at once.
Here a process waits for Redis instead, sockets stay open:
- `receive()` catches the connection error and waits for the process's one recovery task,
  which probes Redis with a jittered backoff (one probe per process, not one per socket);
- the recovery adds this process's group memberships again (a Redis restarted without
  persistence forgot them), then tells each local channel `layer.recovered`: the consumer
  sends its browser a fresh `state` and the chat's replay, so what was broadcast during the
  outage (or by another process before this one's groups were back) is caught up;
- `group_add` records the membership before asking Redis, `group_discard` forgets it first
  and does not fail on a Redis that is down (the membership expires there by itself).
`send`/`group_send` still raise while Redis is down: the caller decides (the consumer
answers the sender with an error; a new socket is closed with RETRY, PROTOCOL.md).
Redis connections are those of channels_redis's pools: reconnected in place, not added.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict

import redis.exceptions
from channels.exceptions import ChannelFull
from channels_redis.core import RedisChannelLayer

log = logging.getLogger("rooms.layer")

# What "Redis is unreachable" looks like from redis-py.
DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionError, OSError)
PROBE_FIRST, PROBE_MAX = 0.2, 2.0  # seconds between probes, doubling, each jittered ±50%


def is_down(error: BaseException) -> bool:
    return isinstance(error, DOWN)


class ResilientRedisChannelLayer(RedisChannelLayer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.memberships: defaultdict[str, set[str]] = defaultdict(set)  # group → this process's channels
        self._recoveries: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}
        self.outages = 0  # seen since the start (tests, logs)

    # --- receiving: wait for Redis rather than fail ---
    async def receive(self, channel: str) -> dict:
        while True:
            await self.wait_until_up()
            try:
                return await super().receive(channel)
            except DOWN as error:
                self.went_down(error)

    def went_down(self, error: BaseException) -> None:
        """Start the recovery of this event loop's process, if not under way."""
        loop = asyncio.get_running_loop()
        task = self._recoveries.get(loop)
        if task is None or task.done():
            self.outages += 1
            log.warning("channel layer: Redis unreachable (%s); waiting for it", error)
            self._recoveries[loop] = loop.create_task(self._recover(), name="channel layer recovery")

    async def wait_until_up(self) -> None:
        task = self._recoveries.get(asyncio.get_running_loop())
        if task is not None and not task.done():
            await asyncio.shield(task)

    async def _recover(self) -> None:
        delay = PROBE_FIRST
        while True:
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            try:
                await self._ping()
                await self._resubscribe()
                break
            except DOWN:
                delay = min(PROBE_MAX, delay * 2)
        log.warning("channel layer: Redis is back; %d group memberships restored", self._count())
        channels = {c for members in self.memberships.values() for c in members}
        for channel in channels:  # each consumer sends its browser a fresh state
            try:
                await super().send(channel, {"type": "layer.recovered"})
            except ChannelFull:
                # This process's inbox is full (settings: capacity): this socket misses the
                # catch-up, the others still get theirs. Raised out of here, it would end
                # every consumer of the process waiting on this task (all sockets closed).
                log.warning("channel layer: inbox full, %s not told that Redis is back", channel)
            except DOWN as error:
                self.went_down(error)
                return

    async def _ping(self) -> None:
        for index in range(self.ring_size):
            async with self.connection(index) as connection:
                await connection.ping()

    async def _resubscribe(self) -> None:
        for group, channels in list(self.memberships.items()):
            for channel in list(channels):
                await super().group_add(group, channel)

    def _count(self) -> int:
        return sum(len(channels) for channels in self.memberships.values())

    # --- groups: remembered here, so they can be added again ---
    async def group_add(self, group: str, channel: str) -> None:
        self.memberships[group].add(channel)
        try:
            await super().group_add(group, channel)
        except DOWN as error:
            self.went_down(error)
            raise

    async def group_discard(self, group: str, channel: str) -> None:
        members = self.memberships.get(group)
        if members is not None:
            members.discard(channel)
            if not members:
                del self.memberships[group]
        try:
            await super().group_discard(group, channel)
        except DOWN as error:
            self.went_down(error)
            log.info("channel layer: %s left %s while Redis is down (expires there)", channel, group)
