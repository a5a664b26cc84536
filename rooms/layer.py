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
A process's sockets share one Redis inbox; one reader task per event loop pops it and
hands each message to its socket's buffer (channels_redis had a socket's own receive() pop
for all: one closing mid-pop lost another socket's message, see `receive`).
`send`/`group_send` still raise while Redis is down: the caller decides (the consumer
answers the sender with an error; a new socket is closed with RETRY, PROTOCOL.md).

Redis connections: a process holds at most `pool_size` (CHANNEL_LAYER_POOL, 64) per event
loop, reconnected in place after a restart. channels_redis's pool is unbounded: every command in
flight at once took a connection of its own and kept it, idle, for good (a burst of chats or
the commands failing during an outage: 35 connections became 563 in
bench/signalling_load.py, 222 left after); here a command waits for a free one (PoolBusy
after POOL_TIMEOUT: not an outage). 16 was too few on a starved machine: the event loop read
the replies late, commands queued for the pool past 10 s and were taken for an outage.

Round trips (bench/handshake_cost.py): a handshake's groups are added in one pipeline
(`group_add_all`), a socket's groups left in one (`group_discard_all`), `group_send` takes two
round trips instead of four, and the recovery adds the memberships again in pipelines of
`RESUBSCRIBE_BATCH`, not one by one.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Iterable

import redis.exceptions
from channels.exceptions import ChannelFull
from channels_redis.core import RedisChannelLayer
from redis import asyncio as aioredis

log = logging.getLogger("rooms.layer")

# What "Redis is unreachable" looks like from redis-py.
DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionError, OSError)
# Seconds between probes, doubling, each jittered ±50%: one PING per process, so the cap is
# low (at 2 s, a process noticed a restarted Redis up to 3 s late).
PROBE_FIRST, PROBE_MAX = 0.2, 1.0
RESUBSCRIBE_BATCH = 500  # memberships added again per round trip after an outage
POOL_TIMEOUT = 30.0  # seconds a command waits for a free connection of the pool
READ_RETRY = 0.5  # seconds before the inbox reader tries again after an unexpected error


class PoolBusy(redis.exceptions.RedisError):
    """Every connection of the pool stayed in use for POOL_TIMEOUT: a starved process, not
    a Redis that is down (taken for an outage, it set off a recovery: more work)."""


class BoundedPool(aioredis.BlockingConnectionPool):
    async def get_connection(self, *args, **kwargs):
        try:
            return await super().get_connection(*args, **kwargs)
        except redis.exceptions.ConnectionError as error:
            if isinstance(error.__cause__, TimeoutError):  # its wait for a free one, not a connect
                raise PoolBusy(f"no free Redis connection within {self.timeout} s") from error
            raise

# One round trip for a group's message to all its members' inboxes (channels_redis's own
# script, plus the expiry of old messages it did in a round trip before): for each inbox,
# drop what expired, then add the message unless the inbox is full. Returns the count of full ones.
GROUP_SEND = """
local over_capacity = 0
local current_time = tonumber(ARGV[#ARGV - 1])
local expiry = tonumber(ARGV[#ARGV])
for i = 1, #KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, math.floor(current_time) - expiry)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
        redis.call('ZADD', KEYS[i], current_time, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""


def is_down(error: BaseException) -> bool:
    return isinstance(error, DOWN)


class ResilientRedisChannelLayer(RedisChannelLayer):
    def __init__(self, *args, pool_size: int = 64, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if pool_size < 2:  # one is held by the blocking receive
            raise ValueError("the channel layer's pool_size must be at least 2")
        self.pool_size = pool_size
        self.memberships: defaultdict[str, set[str]] = defaultdict(set)  # group → this process's channels
        self._recoveries: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}
        self._readers: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Task] = {}
        # Per inbox, this process's channels whose consumer has not ended.
        self._live: defaultdict[str, set[str]] = defaultdict(set)
        self.outages = 0  # seen since the start (tests, logs)

    # --- receiving: one reader per process, which no socket's end can cancel ---
    async def new_channel(self, prefix: str = "specific") -> str:
        channel = await super().new_channel(prefix)
        self._live[self.non_local_name(channel)].add(channel)  # kept from now on, before its first receive()
        return channel

    async def receive(self, channel: str) -> dict:
        """The next message of `channel`. A process's channels share one Redis inbox:
        channels_redis had whichever socket's receive() came first pop it for all, so a
        socket closing (its receive cancelled) while it popped lost the message it was
        reading, someone else's (the blocking pop had taken it from Redis, its reply never
        read; tests/rooms/test_layer_reader.py). Here a reader task per event loop pops and
        hands out; a cancelled receive() only stops waiting on its own buffer."""
        if "!" not in channel:  # a shared, non-process channel: channels_redis's own
            while True:
                await self.wait_until_up()
                try:
                    return await super().receive(channel)
                except DOWN as error:
                    self.went_down(error)
        assert self.require_valid_channel_name(channel)
        inbox = self.non_local_name(channel)  # one per channel prefix ("specific": the sockets')
        live = self._live[inbox]
        live.add(channel)
        self._ensure_reader(inbox)
        try:
            return await self.receive_buffer[channel].get()
        except asyncio.CancelledError:
            live.discard(channel)  # the socket is gone: what comes for it now is dropped
            self.receive_buffer.pop(channel, None)
            raise

    def _ensure_reader(self, inbox: str) -> None:
        key = (asyncio.get_running_loop(), inbox)
        task = self._readers.get(key)
        if task is None or task.done():
            self._readers[key] = key[0].create_task(self._read(inbox), name=f"channel layer reader {inbox}")

    async def _read(self, inbox: str) -> None:
        """Pop an inbox of this process and hand each message to its channel's buffer,
        while a channel of it is alive (each pop blocks at most brpop_timeout)."""
        live = self._live[inbox]
        while live:
            await self.wait_until_up()
            try:
                to, message = await self.receive_single(inbox)
            except DOWN as error:
                self.went_down(error)
                continue
            except Exception:
                # e.g. PoolBusy on a starved process: the sockets must not lose their reader.
                log.exception("channel layer: reading this process's inbox failed")
                await asyncio.sleep(READ_RETRY)
                continue
            for name in to if isinstance(to, list) else [to]:
                if name in live:
                    self.receive_buffer[name].put_nowait(message)

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
            if self._is_local(channel):
                # Straight into the consumer's buffer: through Redis this was a send and a
                # receive (eight round trips) per socket, one after the other, hundreds per
                # process, before the last browser was caught up.
                self.receive_buffer[channel].put_nowait({"type": "layer.recovered"})
                continue
            try:
                await super().send(channel, {"type": "layer.recovered"})
            except ChannelFull:
                # The inbox is full (settings: capacity): this socket misses the catch-up,
                # the others still get theirs. Raised out of here, it would end every
                # consumer of the process waiting on this task (all sockets closed).
                log.warning("channel layer: inbox full, %s not told that Redis is back", channel)
            except DOWN as error:
                self.went_down(error)
                return

    def _is_local(self, channel: str) -> bool:
        """A channel of this process (its consumers read this layer's buffers)."""
        return "!" in channel and self.non_local_name(channel).endswith(self.client_prefix + "!")

    def create_pool(self, index: int) -> aioredis.ConnectionPool:
        """At most `pool_size` connections; a command waits for a free one (see the module)."""
        host = dict(self.hosts[index])
        if "address" not in host:
            raise ValueError("ResilientRedisChannelLayer takes its hosts as URLs")
        return BoundedPool.from_url(
            host.pop("address"), max_connections=self.pool_size, timeout=POOL_TIMEOUT, **host)

    async def _ping(self) -> None:
        for index in range(self.ring_size):
            async with self.connection(index) as connection:
                await connection.ping()

    async def _resubscribe(self) -> None:
        pairs = [(group, channel) for group, channels in list(self.memberships.items()) for channel in list(channels)]
        for start in range(0, len(pairs), RESUBSCRIBE_BATCH):
            await self._add(pairs[start:start + RESUBSCRIBE_BATCH])

    async def _add(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Add memberships in one round trip per Redis host (as channels_redis's group_add:
        the channel in the group's sorted set, the set's expiry renewed)."""
        by_index: defaultdict[int, list[tuple[str, str]]] = defaultdict(list)
        for group, channel in pairs:
            assert self.require_valid_group_name(group) and self.require_valid_channel_name(channel)
            by_index[self.consistent_hash(group)].append((group, channel))
        now = time.time()
        for index, members in by_index.items():
            pipe = self.connection(index).pipeline(transaction=False)
            for group, channel in members:
                key = self._group_key(group)
                pipe.zadd(key, {channel: now})
                pipe.expire(key, self.group_expiry)
            await pipe.execute()

    def _count(self) -> int:
        return sum(len(channels) for channels in self.memberships.values())

    # --- groups: remembered here, so they can be added again ---
    async def group_add(self, group: str, channel: str) -> None:
        await self.group_add_all([group], channel)

    async def group_add_all(self, groups: Iterable[str], channel: str) -> None:
        """`channel` joins every group of `groups`, in one round trip."""
        groups = list(groups)
        for group in groups:
            self.memberships[group].add(channel)
        try:
            await self._add((group, channel) for group in groups)
        except DOWN as error:
            self.went_down(error)
            raise

    async def group_discard(self, group: str, channel: str) -> None:
        await self.group_discard_all([group], channel)

    async def group_discard_all(self, groups: Iterable[str], channel: str) -> None:
        """`channel` leaves every group of `groups`, in one round trip; never fails on a
        Redis that is down (the memberships expire there)."""
        groups = list(groups)
        by_index: defaultdict[int, list[str]] = defaultdict(list)
        for group in groups:
            members = self.memberships.get(group)
            if members is not None:
                members.discard(channel)
                if not members:
                    del self.memberships[group]
            assert self.require_valid_group_name(group) and self.require_valid_channel_name(channel)
            by_index[self.consistent_hash(group)].append(group)
        try:
            for index, names in by_index.items():
                pipe = self.connection(index).pipeline(transaction=False)
                for group in names:
                    pipe.zrem(self._group_key(group), channel)
                await pipe.execute()
        except DOWN as error:
            self.went_down(error)
            log.info("channel layer: %s left %s while Redis is down (expires there)", channel, groups)

    async def group_send(self, group: str, message: dict) -> None:
        """As channels_redis's, in two round trips instead of four: the group's members
        (expired ones dropped) in one pipeline, the message to their inboxes in one script."""
        assert self.require_valid_group_name(group), "Group name not valid"
        key = self._group_key(group)
        connection = self.connection(self.consistent_hash(group))
        pipe = connection.pipeline(transaction=False)
        pipe.zremrangebyscore(key, min=0, max=int(time.time()) - self.group_expiry)
        pipe.zrange(key, 0, -1)
        _, members = await pipe.execute()
        channel_names = [x.decode("utf8") for x in members]
        to_keys, key_messages, key_capacities = self._map_channel_keys_to_connection(channel_names, message)
        for index, keys in to_keys.items():
            args = [key_messages[k] for k in keys] + [key_capacities[k] for k in keys] + [time.time(), self.expiry]
            over = await self.connection(index).eval(GROUP_SEND, len(keys), *keys, *args)
            if over:
                log.info("channel layer: %s of %s inboxes full in group %s", over, len(channel_names), group)
