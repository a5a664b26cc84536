"""A media node: one MediaEngine serving the rooms placed on it, driven over a channel layer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Protocol

from media.engine import MediaEngine, MediaError
from media.identity import check_participant
from media.network import announce_public_address
from media.nodes.commands import OPS, PROGRESS, node_channel
from media.nodes.registry import NodeRegistry

log = logging.getLogger("media.node")


class NodeFull(MediaError):
    """Above its configured load a node takes no new room (it keeps serving its rooms)."""


class ChannelLayer(Protocol):
    async def send(self, channel: str, message: dict[str, Any]) -> None: ...
    async def receive(self, channel: str) -> dict[str, Any]: ...


class MediaNode:
    def __init__(self, node_id: str, engine: MediaEngine, layer: ChannelLayer, registry: NodeRegistry, *,
                 max_tracks: int = 400, max_cpu: float = 0.85, interval: float = 1.0, public_ip: str = ""):
        self.node_id, self.engine, self.layer, self.registry = node_id, engine, layer, registry
        self.max_tracks, self.max_cpu, self.interval = max_tracks, max_cpu, interval
        self.public_ip = public_ip
        self._cpu = 0.0
        self._rooms: set[str] = set()  # rooms this node serves (a full node still serves them)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def channel(self) -> str:
        return node_channel(self.node_id)

    def load(self) -> int:
        tracks: int = self.engine.stats()["forwarded_tracks"]
        return tracks

    def accepting(self) -> bool:
        return self.load() < self.max_tracks and self._cpu < self.max_cpu

    async def run(self) -> None:
        announcer = asyncio.create_task(self._announce_forever())
        try:
            while True:
                message = await self.layer.receive(self.channel)
                task = asyncio.create_task(self.handle(message))  # rooms do not wait on each other
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            announcer.cancel()
            with contextlib.suppress(Exception):
                await self.registry.withdraw(self.node_id)
            await self.engine.shutdown()

    async def handle(self, message: dict[str, Any]) -> None:
        reply_to = message.get("reply_to")
        try:
            result = await self.execute(message)
            reply = {"type": "media.reply", "ok": True, "result": result}
        except MediaError as error:
            reply = {"type": "media.reply", "ok": False, "error": type(error).__name__, "message": str(error)}
        except Exception as error:  # never let one bad command stop the node
            log.exception("media command failed")
            reply = {"type": "media.reply", "ok": False, "error": "MediaError", "message": repr(error)}
        if reply_to:
            await self.layer.send(reply_to, reply)

    async def execute(self, message: dict[str, Any]) -> Any:
        op, room, pid, args = message.get("op"), message.get("room"), message.get("pid"), message.get("args", {})
        if op not in OPS or not isinstance(room, str):
            raise MediaError(f"unknown media command {op!r}")
        if op == "close_room":
            self._rooms.discard(room)
            return await self.engine.close_room(room)
        if not isinstance(pid, str):
            raise MediaError(f"media command {op!r} without a participant id")
        if op in ("join", "prepare"):  # prepare: the waiting room's connection (MediaEngine.prepare)
            if room not in self._rooms and not self.accepting():
                raise NodeFull("this media node is full")
            answer = self.engine.join if op == "join" else self.engine.prepare
            result = await answer(room, pid, args["sdp"])
            self._rooms.add(room)
            return {**result, "sdp": announce_public_address(result["sdp"], self.public_ip)}
        if op == "admit":
            return await self.engine.admit(room, pid, audio_only=bool(args.get("audio_only")))
        if op == "answer":
            return await self.engine.answer(room, pid, args["sdp"])
        if op == "leave":
            return await self.engine.leave(room, pid)
        if op == "idcheck":
            reply_to = message.get("reply_to")

            async def send_hint(hint: str) -> None:  # live guidance, on the reply's own path
                if reply_to:
                    await self.layer.send(reply_to, {"type": PROGRESS, "hint": hint})

            return await check_participant(self.engine, room, pid, args["first_name"], args["last_name"],
                                           timeout=float(args.get("timeout_s", 20)), on_hint=send_hint)
        if op == "set_audio_only":
            return await self.engine.set_audio_only(room, pid, bool(args["audio_only"]))
        raise MediaError(f"media command {op!r} is not handled")

    async def _announce_forever(self) -> None:
        last_wall, last_cpu = time.monotonic(), time.process_time()
        while True:
            now_wall, now_cpu = time.monotonic(), time.process_time()
            if now_wall > last_wall:
                self._cpu = (now_cpu - last_cpu) / (now_wall - last_wall)
            last_wall, last_cpu = now_wall, now_cpu
            try:
                await self.registry.announce(self.node_id, load=self.load(), cpu=self._cpu,
                                             accepting=self.accepting())
            except Exception:
                log.exception("could not announce load")  # Redis hiccup: try again next tick
            await asyncio.sleep(self.interval)
