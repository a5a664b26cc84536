"""Node load announcements and room placement, in Redis.

Each node writes `{"load": forwarded tracks, "cpu": core fraction, "accepting": bool,
"ts": unix time}` into one hash every `interval`; a node whose entry is older than
`max_age` is dead. A room's node is kept under its own key; placement picks the least
loaded live accepting node and keeps it while that node lives.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis

NODES_KEY = "gv:media:nodes"


def room_key(room_id: str) -> str:
    return f"gv:media:room:{room_id}"


@dataclass(frozen=True)
class NodeLoad:
    node_id: str
    load: int
    cpu: float
    accepting: bool
    ts: float

    def alive(self, now: float, max_age: float) -> bool:
        return now - self.ts <= max_age


def parse_nodes(raw: dict[Any, Any]) -> list[NodeLoad]:
    """The registry's hash as `announce` wrote it (also read with a synchronous client by the
    portal's readiness probe)."""
    return [NodeLoad(node_id=k.decode(), **json.loads(v)) for k, v in raw.items()]


def live(nodes: list[NodeLoad], max_age: float) -> list[NodeLoad]:
    now = time.time()
    return [n for n in nodes if n.alive(now, max_age)]


class NoNodeAvailable(Exception):
    """Every live node is full (or none is alive): the room cannot start now."""


class NodeRegistry:
    def __init__(self, url: str, *, prefix: str = "", max_age: float = 3.0):
        # Any: redis-py types its asyncio client's replies as `Awaitable[T] | T` (shared with the
        # sync client), which cannot be awaited under strict checking.
        self.redis: Any = redis.Redis.from_url(url)
        self.prefix = prefix
        self.max_age = max_age

    def _key(self, key: str) -> str:
        return self.prefix + key

    async def announce(self, node_id: str, *, load: int, cpu: float, accepting: bool) -> None:
        entry = {"load": load, "cpu": round(cpu, 3), "accepting": accepting, "ts": time.time()}
        await self.redis.hset(self._key(NODES_KEY), node_id, json.dumps(entry))

    async def withdraw(self, node_id: str) -> None:
        await self.redis.hdel(self._key(NODES_KEY), node_id)

    async def nodes(self) -> list[NodeLoad]:
        return parse_nodes(await self.redis.hgetall(self._key(NODES_KEY)))

    async def live_nodes(self) -> list[NodeLoad]:
        return live(await self.nodes(), self.max_age)

    async def place(self, room_id: str) -> str:
        """The room's node: the one it has while alive, else the least loaded accepting one."""
        live = {n.node_id: n for n in await self.live_nodes()}
        key = self._key(room_key(room_id))
        current: bytes | None = await self.redis.get(key)
        if current is not None and current.decode() in live:
            return current.decode()
        candidates = sorted((n for n in live.values() if n.accepting), key=lambda n: (n.load, n.cpu, n.node_id))
        if not candidates:
            raise NoNodeAvailable("no media node can take a new room right now")
        chosen = candidates[0].node_id
        # Compare-and-set: if another process placed (or re-placed) the room meanwhile, use its choice.
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                if await pipe.get(key) != current:
                    raise redis.WatchError
                pipe.multi()
                pipe.set(key, chosen, ex=24 * 3600)
                await pipe.execute()
            except redis.WatchError:
                placed: bytes = await self.redis.get(key)
                return placed.decode()
        return chosen

    async def assigned(self, room_id: str) -> str | None:
        """The room's node if it has one that is alive (no placement)."""
        current: bytes | None = await self.redis.get(self._key(room_key(room_id)))
        if current is None:
            return None
        return current.decode() if current.decode() in {n.node_id for n in await self.live_nodes()} else None

    async def forget(self, room_id: str) -> None:
        await self.redis.delete(self._key(room_key(room_id)))

    async def close(self) -> None:
        await self.redis.aclose()
