"""The Django edge of the media engine.

Two ways to reach media, same calls (`join`, `prepare` and `admit` for the waiting room's
connection, `request_keyframes` when admitting, `answer`, `leave`, `set_audio_only`, `close_room`):
- in-process (embedded default): one MediaEngine in this ASGI process;
- nodes (`MEDIA_NODES=remote`, with Redis): rooms are placed on `medianode` processes by
  load (media/nodes/registry.py) and driven over the channel layer; a room whose node
  died is placed again on the next join, so browsers that re-offer are back in the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

# MediaError, MediaTimeout and spawn are re-exported: the portal reaches media through this module only.
from media.engine import ContractError, MediaEngine, MediaError, MediaTimeout, aiortc_hooks
from media.engine.background import spawn as spawn  # tasks that drive media: kept referenced, failures logged
from media.idcheck.guidance import Hint
from media.identity import OnHint, check_participant
from media.network import announce_public_address, parse_port_range, restrict_udp_ports
from media.nodes.commands import PROGRESS, node_channel
from media.nodes.registry import NODES_KEY, NodeRegistry, NoNodeAvailable, live, parse_nodes
from rooms.groups import channel_layer, personal_group
from rooms.ice import ice_servers_for
from rooms.phone.relay import PhoneRelay

log = logging.getLogger(__name__)

_engine: InProcessMedia | None = None
_remote: RemoteMedia | None = None


class MediaUnavailable(MediaError):
    """No media node could serve the room now (all full, or the node did not answer)."""


async def send_server_offer(room_id: str, participant_id: str, payload: dict[str, Any]) -> None:
    sdp = announce_public_address(payload["sdp"], settings.MEDIA_PUBLIC_IP)
    await channel_layer().group_send(
        personal_group(participant_id),
        {"type": "client.forward", "message": {"type": "rtc.offer", "sdp": sdp, "tracks": payload.get("tracks", {})}},
    )


def check_media_contract() -> None:
    """Raise ContractError if the installed aiortc/aioice do not match the engine (rooms/checks.py)."""
    aiortc_hooks.check_contract()


def loopback_wanted() -> bool:
    """Offer 127.0.0.1: when told to (tests), or in DEBUG on a machine with no other address,
    where the engine would otherwise offer no candidate and calls would hang (`./dev run`
    offline). Browsers on such a machine still need Chromium's --allow-loopback-in-peer-connection."""
    return settings.ICE_LOOPBACK_ONLY or (settings.DEBUG and not aiortc_hooks.has_host_address())


def new_engine() -> MediaEngine:
    """An engine for this process's running loop, with the network settings applied.

    A mismatched aiortc is logged at ERROR and raised as MediaUnavailable: browsers get
    `media_unavailable`, not an SDP error.
    """
    try:
        check_media_contract()
    except ContractError as error:
        log.error("media engine cannot start: %s", error)
        raise MediaUnavailable(str(error)) from error
    if loopback_wanted():
        aiortc_hooks.use_loopback_only()
    ports = parse_port_range(settings.MEDIA_UDP_PORTS)
    if ports is not None:
        restrict_udp_ports(asyncio.get_running_loop(), *ports)
    return MediaEngine(mode=settings.MEDIA_ENGINE_MODE, ice_servers=engine_ice_servers(),
                       on_server_offer=send_server_offer, red=settings.MEDIA_AUDIO_RED,
                       video_fec=settings.MEDIA_VIDEO_FEC, playout_hint=settings.MEDIA_PLAYOUT_HINT,
                       repair_repeat=settings.MEDIA_REPAIR_REPEAT)


def engine_ice_servers() -> list[dict[str, Any]] | Callable[[str], list[dict[str, Any]]]:
    """ICE_SERVERS; with MEDIA_USE_TURN, TURN credentials of its own for each connection
    (only the first STUN and the first usable TURN URL count for aiortc: README, TURN)."""
    if settings.MEDIA_USE_TURN and settings.TURN_URLS:
        return lambda pid: ice_servers_for(f"engine-{pid}")
    return settings.ICE_SERVERS


def live_media_nodes(client: Any) -> list[str]:
    """Ids of the media nodes that announced themselves within MEDIA_NODE_MAX_AGE (read with
    a synchronous Redis client: the readiness probe)."""
    nodes = parse_nodes(client.hgetall(settings.MEDIA_REDIS_PREFIX + NODES_KEY))
    return sorted(n.node_id for n in live(nodes, settings.MEDIA_NODE_MAX_AGE))


def media_can_take_a_call() -> bool:
    """Whether a phone could reach media now (read synchronously: Twilio's webhook). In
    process: always. On nodes: a live node accepts new rooms, or Redis cannot say (then
    the call goes on, and its admission says clearly if the audio cannot join)."""
    if settings.MEDIA_NODES != "remote":
        return True
    import redis

    try:
        with redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2) as client:
            nodes = live(parse_nodes(client.hgetall(settings.MEDIA_REDIS_PREFIX + NODES_KEY)),
                         settings.MEDIA_NODE_MAX_AGE)
    except Exception:
        log.exception("media node registry unreadable: the call goes on")
        return True
    return any(n.accepting for n in nodes)


class InProcessMedia:
    """The engine inside this ASGI process (embedded default), with the same calls as nodes."""

    def __init__(self) -> None:
        self.engine = new_engine()

    async def join(self, room: str, pid: str, sdp: str) -> dict:
        reply = await self.engine.join(room, pid, sdp)
        return {**reply, "sdp": announce_public_address(reply["sdp"], settings.MEDIA_PUBLIC_IP)}

    async def prepare(self, room: str, pid: str, sdp: str) -> dict:
        reply = await self.engine.prepare(room, pid, sdp)
        return {**reply, "sdp": announce_public_address(reply["sdp"], settings.MEDIA_PUBLIC_IP)}

    async def admit(self, room: str, pid: str, audio_only: bool) -> dict | None:
        return await self.engine.admit(room, pid, audio_only=audio_only)

    async def answer(self, room: str, pid: str, sdp: str) -> None:
        await self.engine.answer(room, pid, sdp)

    async def leave(self, room: str, pid: str) -> None:
        await self.engine.leave(room, pid)

    async def set_audio_only(self, room: str, pid: str, audio_only: bool) -> None:
        await self.engine.set_audio_only(room, pid, audio_only)

    async def request_keyframes(self, room: str) -> None:
        self.engine.request_keyframes(room)

    async def close_room(self, room: str) -> None:
        await self.engine.close_room(room)

    async def id_check(self, room: str, pid: str, first_name: str, last_name: str, timeout: float,
                       on_hint: OnHint | None = None) -> dict:
        return await check_participant(self.engine, room, pid, first_name, last_name, timeout=timeout,
                                       on_hint=on_hint)

    async def attach_phone(self, room: str, leg: Any, channel: str) -> None:
        """A phone leg (media/phone/) joins the room's media: its voice out, the room's in
        (`channel`, the stream consumer's, serves nodes only)."""
        self.engine.attach_local(room, leg)

    async def detach_phone(self, room: str, pid: str) -> None:
        self.engine.detach_local(room, pid)

    async def shutdown(self) -> None:
        await self.engine.shutdown()


class RemoteMedia:
    """Media on node processes: place the room, send the command, wait for the reply."""

    def __init__(self, registry: NodeRegistry, timeout: float = 15.0):
        self.registry, self.timeout = registry, timeout
        self._relays: dict[str, PhoneRelay] = {}  # phones whose leg is on a node, by pid

    async def _call(self, op: str, room: str, pid: str | None = None, *, place: bool = True,
                    timeout: float | None = None,
                    on_progress: Callable[[dict], Awaitable[None]] | None = None, **args) -> Any:
        try:
            node = await self.registry.place(room) if place else await self.registry.assigned(room)
        except NoNodeAvailable as error:
            raise MediaUnavailable(str(error)) from None
        if node is None:
            return None  # never placed: nothing to leave or close
        layer = channel_layer()
        # The default prefix matters: one Redis inbox per prefix, so a reply channel sharing
        # the consumers' prefix is served by the reader already running for them (rooms/layer.py).
        reply_to = await layer.new_channel()
        await layer.send(node_channel(node), {"type": "media.command", "op": op, "room": room, "pid": pid,
                                              "args": args, "reply_to": reply_to})
        try:
            async with asyncio.timeout(timeout or self.timeout):
                reply = await layer.receive(reply_to)
                while reply.get("type") == PROGRESS:  # a long command's news before its reply
                    if on_progress is not None:
                        await on_progress(reply)
                    reply = await layer.receive(reply_to)
        except TimeoutError:
            raise MediaUnavailable(f"media node {node} did not answer") from None
        if not reply["ok"]:
            kind: type[MediaError] = MediaTimeout if reply["error"] == "MediaTimeout" else MediaError
            if reply["error"] == "NodeFull":
                kind = MediaUnavailable
            raise kind(reply["message"])
        return reply["result"]

    async def join(self, room: str, pid: str, sdp: str) -> dict:
        return await self._call("join", room, pid, sdp=sdp)

    async def prepare(self, room: str, pid: str, sdp: str) -> dict:
        return await self._call("prepare", room, pid, sdp=sdp)

    async def admit(self, room: str, pid: str, audio_only: bool) -> dict | None:
        # None: the room was never placed (no prepared connection anywhere).
        return await self._call("admit", room, pid, place=False, audio_only=audio_only)

    async def answer(self, room: str, pid: str, sdp: str) -> None:
        await self._call("answer", room, pid, place=False, sdp=sdp)

    async def leave(self, room: str, pid: str) -> None:
        await self._call("leave", room, pid, place=False)

    async def set_audio_only(self, room: str, pid: str, audio_only: bool) -> None:
        await self._call("set_audio_only", room, pid, place=False, audio_only=audio_only)

    async def request_keyframes(self, room: str) -> None:
        # Only a head start for an admitted guest's first picture: nothing to report if it fails.
        with contextlib.suppress(MediaError):
            await self._call("keyframes", room, place=False, timeout=5)

    async def close_room(self, room: str) -> None:
        await self._call("close_room", room, place=False)
        await self.registry.forget(room)

    async def attach_phone(self, room: str, leg: Any, channel: str) -> None:
        """The phone's leg on the room's node (placed like a browser's join); this process's
        `leg` then only relays: what the phone says to the node (rooms/phone/relay.py), the
        node's mix to `channel` (the stream's consumer, `phone.audio`)."""
        pid = leg.participant_id
        await self._stop_relay(pid)
        try:
            result = await self._call("phone_attach", room, pid, channel=channel)
        except MediaError:
            # No reply is not "not attached": the node may have started the leg late.
            with contextlib.suppress(MediaError):
                await self._call("phone_detach", room, pid, place=False, timeout=2)
            raise
        self._relays[pid] = PhoneRelay(channel_layer(), result["node"], pid, leg)

    async def detach_phone(self, room: str, pid: str) -> None:
        await self._stop_relay(pid)
        await self._call("phone_detach", room, pid, place=False)

    async def _stop_relay(self, pid: str) -> None:
        relay = self._relays.pop(pid, None)
        if relay is not None:
            await relay.stop()

    async def id_check(self, room: str, pid: str, first_name: str, last_name: str, timeout: float,
                       on_hint: OnHint | None = None) -> dict:
        async def progress(message: dict) -> None:
            hint = message.get("hint")
            if on_hint is not None and hint in {h.value for h in Hint}:  # only the codes the page knows how to word
                await on_hint(hint)

        return await self._call("idcheck", room, pid, place=False, timeout=timeout + 15, on_progress=progress,
                                first_name=first_name, last_name=last_name, timeout_s=timeout)


def media() -> InProcessMedia | RemoteMedia:
    """How this process reaches media, from settings."""
    global _engine, _remote
    if settings.MEDIA_NODES != "remote":
        if _engine is None:
            _engine = InProcessMedia()
        return _engine
    if _remote is None:
        _remote = RemoteMedia(NodeRegistry(settings.REDIS_URL, prefix=settings.MEDIA_REDIS_PREFIX,
                                           max_age=settings.MEDIA_NODE_MAX_AGE))
    return _remote


def reset() -> None:
    """Forget this process's engine and node client (tests run one event loop each)."""
    global _engine, _remote
    _engine = _remote = None
