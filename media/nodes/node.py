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
from media.nodes.commands import OPS, PHONE_AUDIO, PHONE_MEDIA, PHONE_SILENT_S, PROGRESS, node_channel
from media.nodes.registry import NodeRegistry
from media.phone.bridge import PhoneLeg

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
        self._phones: dict[str, tuple[str, PhoneLeg]] = {}  # pid → (room, leg)
        self._phone_heard: dict[str, float] = {}  # pid → when its Daphne last sent frames

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
                if message.get("type") == PHONE_MEDIA:
                    self.phone_media(message)  # 50 a second per call: no task, in order
                    continue
                task = asyncio.create_task(self.handle(message))  # rooms do not wait on each other
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            announcer.cancel()
            with contextlib.suppress(Exception):
                await self.registry.withdraw(self.node_id)
            for pid in list(self._phones):
                await self.drop_phone(pid)
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
            for phone, (phone_room, _) in list(self._phones.items()):
                if phone_room == room:
                    await self.drop_phone(phone)
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
        if op == "keyframes":
            return self.engine.request_keyframes(room)
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
        if op == "phone_attach":
            if room not in self._rooms and not self.accepting():
                raise NodeFull("this media node is full")
            self.attach_phone(room, pid, str(args["channel"]))
            self._rooms.add(room)
            return {"node": self.node_id}
        if op == "phone_detach":
            return await self.drop_phone(pid)
        if op == "set_audio_only":
            return await self.engine.set_audio_only(room, pid, bool(args["audio_only"]))
        raise MediaError(f"media command {op!r} is not handled")

    # --- the telephone ---------------------------------------------------------------------

    def attach_phone(self, room: str, pid: str, channel: str) -> None:
        """The phone's leg in this node's engine; its 20 ms frames go to its stream's consumer."""
        previous = self._phones.pop(pid, None)
        if previous is not None:  # attached again (its Daphne lost our reply): one leg only
            self.engine.detach_local(previous[0], pid)
            self._spawn(previous[1].close())

        async def send(mulaw: bytes) -> None:
            await self.layer.send(channel, {"type": PHONE_AUDIO, "audio": mulaw})

        leg = PhoneLeg(pid, send)
        leg.attached = True
        self.engine.attach_local(room, leg)
        leg.start()
        self._phones[pid] = (room, leg)
        self._phone_heard[pid] = time.monotonic()

    def phone_media(self, message: dict[str, Any]) -> None:
        """What a phone said, relayed by its Daphne (dropped if its leg is not here)."""
        pid = message.get("pid")
        entry = self._phones.get(pid) if isinstance(pid, str) else None
        if entry is None:
            return
        leg = entry[1]
        self._phone_heard[entry[1].participant_id] = time.monotonic()
        leg.muted = bool(message.get("muted"))
        for frame in message.get("frames", ()):
            if isinstance(frame, bytes):
                leg.feed(frame)

    async def drop_phone(self, pid: str) -> None:
        entry = self._phones.pop(pid, None)
        self._phone_heard.pop(pid, None)
        if entry is None:
            return
        room, leg = entry
        self.engine.detach_local(room, pid)
        await leg.close()

    def _drop_silent_phones(self) -> None:
        now = time.monotonic()
        for pid, heard in list(self._phone_heard.items()):
            if now - heard > PHONE_SILENT_S:
                log.info("phone %s: nothing from its stream for %.0f s, leg dropped", pid, now - heard)
                self._spawn(self.drop_phone(pid))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _announce_forever(self) -> None:
        last_wall, last_cpu = time.monotonic(), time.process_time()
        while True:
            now_wall, now_cpu = time.monotonic(), time.process_time()
            if now_wall > last_wall:
                self._cpu = (now_cpu - last_cpu) / (now_wall - last_wall)
            last_wall, last_cpu = now_wall, now_cpu
            self._drop_silent_phones()
            try:
                await self.registry.announce(self.node_id, load=self.load(), cpu=self._cpu,
                                             accepting=self.accepting())
            except Exception:
                log.exception("could not announce load")  # Redis hiccup: try again next tick
            await asyncio.sleep(self.interval)
