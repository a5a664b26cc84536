"""MediaEngine: rooms of peers, each peer's media forwarded to every other peer of its room."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any, Literal, Protocol

import numpy as np
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer, RTCRtpTransceiver, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

from . import aiortc_hooks
from . import fast_path as fast_path_hooks
from .background import spawn
from .errors import MediaError, SdpError, UnknownPeerError
from .modes import (
    PassthroughPublication,
    Publication,
    RelayPublication,
    codec_preferences,
    main_codec,
    prepare_passthrough_sender,
)
from .packet_path import PacketPublication, prepare_packet_sender
from .peer import OfferCallback, Peer
from .sdp_check import check_description
from .udp_batch import GSO_SUPPORTED

logger = logging.getLogger(__name__)

Mode = Literal["passthrough", "relay"]
IceServer = RTCIceServer | dict[str, Any] | str


class LocalParticipant(Protocol):
    """What the engine needs of a participant living in this process (media/phone/)."""

    participant_id: str
    publications: dict[str, Any]

    def add_source(self, participant_id: str, publication: Any) -> None: ...
    def remove_source(self, participant_id: str) -> None: ...
    def clear_sources(self) -> None: ...


def stream_id(participant_id: str) -> str:
    """An msid-safe token naming a participant's media stream."""
    return "p" + hashlib.sha256(participant_id.encode()).hexdigest()[:16]


def _ice_server(server: RTCIceServer | dict[str, Any] | str) -> RTCIceServer:
    if isinstance(server, RTCIceServer):
        return server
    if isinstance(server, str):
        return RTCIceServer(urls=server)
    return RTCIceServer(urls=server["urls"], username=server.get("username"), credential=server.get("credential"))


class MediaEngine:
    """A selective forwarding unit for rooms of WebRTC participants (see the package docstring)."""

    def __init__(
        self,
        mode: Mode = "passthrough",
        ice_servers: Iterable[IceServer] | Callable[[str], Iterable[IceServer]] = (),
        on_server_offer: OfferCallback | None = None,
        *,
        gather_timeout: float = 3.0,
        answer_timeout: float = 30.0,
        remb: aiortc_hooks.RembMode | bool = "light",
        udp_buffer: int | None = 4 << 20,
        fast_path: bool = True,
        gso: bool = GSO_SUPPORTED,
        packets: bool = True,
        red: bool = True,
        video_fec: bool = True,
        playout_hint: bool = True,
        repair_repeat: bool = True,
    ) -> None:
        if mode not in ("passthrough", "relay"):
            raise ValueError(f"unknown mode {mode!r}")
        if udp_buffer:
            aiortc_hooks.set_udp_buffer(udp_buffer)  # process-wide (aioice setting)
        if mode == "passthrough":
            aiortc_hooks.install()
            if fast_path:
                fast_path_hooks.install_clock()  # process-wide, same values
        # The relay baseline keeps aiortc's stock path throughout.
        self._fast_path = fast_path and mode == "passthrough"
        # Packet-level forwarding (packet_path) needs the short transport path; without it, or
        # with packets=False, passthrough forwards assembled frames (the frame-level path).
        self._packets = packets and self._fast_path
        self._red = red and self._packets  # RED for audio: only the packet path forwards it (red.py)
        self._video_fec = video_fec and self._packets  # publishers' ULPFEC: the packet path recovers (ulpfec.py)
        # The playout-delay extension on video m-lines: the packet path asks viewers for a deeper
        # buffer while a publisher's uplink is repaired (playout_hint.py).
        self._playout_hint = playout_hint and self._packets
        # NACKs and retransmissions twice on a lossy hop (repeat.py), within the budget (rtx_budget.py).
        self._repair_repeat = repair_repeat
        self._gso = gso  # with the fast path: a frame's packets leave in one system call (udp_batch)
        self.mode: Mode = mode
        # A list, or a function of the participant id giving its own (fresh TURN credentials).
        self._ice_servers = ice_servers if callable(ice_servers) else [_ice_server(s) for s in ice_servers]
        self._on_server_offer = on_server_offer or _no_callback
        self.gather_timeout = gather_timeout
        self.answer_timeout = answer_timeout
        # True/False kept for callers of the boolean flag: on means the light estimator.
        self._remb: aiortc_hooks.RembMode = ("light" if remb else "off") if isinstance(remb, bool) else remb
        if self._remb not in aiortc_hooks.REMB_MODES:
            raise ValueError(f"unknown REMB mode {remb!r}")
        self._relay = MediaRelay() if mode == "relay" else None
        self._rooms: dict[str, dict[str, Peer]] = {}
        # Prepared connections of participants in the waiting room (`prepare`): outside
        # `_rooms`, so nothing is forwarded to or from them until `admit`.
        self._waiting: dict[str, dict[str, Peer]] = {}
        # Participants with no peer connection, inside this process (a phone leg,
        # media/phone/): they publish like a peer and hear the others' audio publications.
        self._locals: dict[str, dict[str, LocalParticipant]] = {}

    # --- joining and leaving -----------------------------------------------------------------

    async def join(self, room_id: str, participant_id: str, offer_sdp: str) -> dict[str, Any]:
        """Answer a participant's offer; start forwarding between it and the room.

        Returns {"type": "answer", "sdp": ..., "tracks": {mid: {participant_id, kind}}}. The
        room's tracks go on the receive-only m-lines the offer brought (`Peer.slots`), so the
        answer already carries them; only those that found no free slot (an offer without
        any, a codec the slot did not negotiate) come in a server offer (`on_server_offer`)
        started after this call returns.
        """
        peer = await self._connect(room_id, participant_id, offer_sdp,
                                   before_answer=lambda peer: self._enter(room_id, peer))
        return {"type": "answer", "sdp": peer.answer_sdp, "tracks": peer.tracks()}

    async def prepare(self, room_id: str, participant_id: str, offer_sdp: str) -> dict[str, Any]:
        """The connection of a participant still in the waiting room (issue 21): answered,
        ICE and DTLS made while it waits, and no media either way until `admit`.

        The peer stays outside the room: nobody receives its publications (whatever its
        browser sends is read and dropped) and nothing is forwarded to it (its slots are
        answered sendonly but fed a silent track). Returns {"type": "answer", "sdp", "tracks": {}}.
        """
        peer = await self._connect(room_id, participant_id, offer_sdp, before_answer=None)
        self._waiting.setdefault(room_id, {})[participant_id] = peer
        return {"type": "answer", "sdp": peer.answer_sdp, "tracks": {}}

    async def admit(self, room_id: str, participant_id: str, *, audio_only: bool = False) -> dict[str, Any]:
        """A prepared participant enters the room: its tracks go to the others, theirs to it
        on the slots it negotiated while waiting (no offer round for it when they fit).
        Returns {"tracks": ...}: what arrives on which mid. UnknownPeerError if it has no
        prepared connection (the browser then offers as usual)."""
        peer = self._waiting.get(room_id, {}).pop(participant_id, None)
        if peer is None:
            raise UnknownPeerError(f"no prepared connection for {participant_id!r} in room {room_id!r}")
        if not self._waiting[room_id]:
            self._waiting.pop(room_id)
        if peer.closed or peer.pc.connectionState in ("failed", "closed"):
            await peer.close()
            raise UnknownPeerError(f"the prepared connection of {participant_id!r} is gone")
        peer.audio_only = audio_only
        self._enter(room_id, peer)
        if peer.sdp_changed:
            self._renegotiate(peer)
        return {"tracks": peer.tracks()}

    async def _connect(self, room_id: str, participant_id: str, offer_sdp: str,
                       before_answer: Callable[[Peer], None] | None) -> Peer:
        """A peer connection answering `offer_sdp`, its publications made, its slots open;
        `before_answer` runs before the answer is written (what it forwards is in it)."""
        check_description(offer_sdp, "offer")
        await self.leave(room_id, participant_id)  # a rejoin replaces the old connection (waiting or not)

        # An explicit list, maybe empty: aiortc falls back to a public STUN server on None.
        servers = (
            [_ice_server(s) for s in self._ice_servers(participant_id)]
            if callable(self._ice_servers) else self._ice_servers
        )
        # max-bundle: aiortc's default ("balanced") gives the second m-line of a kind created
        # by one offer (a slot) the transport its first one drops for the BUNDLE's: dead.
        pc = aiortc_hooks.StableNumberingPeerConnection(
            RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        pc.red = self._red
        pc.video_fec = self._video_fec
        pc.playout_delay = self._playout_hint
        peer = Peer(room_id, participant_id, pc, self.gather_timeout)
        entered = False
        try:
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            except Exception as exc:
                raise SdpError(f"offer rejected: {type(exc).__name__}: {exc}")
            if self._packets:
                aiortc_hooks.accept_transport_cc(pc, offer_sdp)  # before the answer is written
            # No await between setRemoteDescription and here: receivers are not started yet.
            for transceiver in pc.getTransceivers():
                if transceiver.receiver.track is not None and transceiver.kind not in peer.publications:
                    peer.publications[transceiver.kind] = self._publish(transceiver)
            if self._packets:
                self._open_slots(peer)
            if before_answer is not None:
                before_answer(peer)
                entered = True
            try:
                peer.answer_sdp = await peer.set_local()
            except MediaError:
                raise
            except Exception as exc:  # e.g. an offer whose m-lines repeat: aiortc fails answering it
                raise SdpError(f"offer not answerable: {type(exc).__name__}: {exc}") from None
            if self._fast_path:
                fast_path_hooks.attach(pc, gso=self._gso)  # after gathering: the sockets exist
        except BaseException:
            if entered:
                await self.leave(room_id, participant_id)
            else:
                await peer.close()
            raise
        if entered:
            present: dict[str, Any] = {**self._rooms.get(room_id, {}), **self._locals.get(room_id, {})}
            deferred, peer.deferred = peer.deferred, []
            for publisher in deferred:  # those that found no slot in the answer, if still there
                if any(p is publisher for p in present.values()):
                    self._forward_all(peer, publisher)
            if peer.sdp_changed:
                self._renegotiate(peer)  # its task first runs after this method has returned
        return peer

    def _enter(self, room_id: str, peer: Peer) -> None:
        """`peer` joins the room's forwarding: the others get its tracks, it gets theirs."""
        room = self._rooms.setdefault(room_id, {})
        if peer.participant_id in room:  # a concurrent join of the same id won the race
            raise MediaError(f"{peer.participant_id} joined {room_id} twice at the same time")
        room[peer.participant_id] = peer
        for other in room.values():
            if other is not peer:
                if self._forward_all(other, peer):  # an offer tells it, with the new tracks map
                    self._renegotiate(other)
                self._forward_all(peer, other)  # `peer` is renegotiated by the caller if need be
        for local in self._locals.get(room_id, {}).values():
            self._forward_all(peer, local)  # type: ignore[arg-type]  # publications and an id are all it reads
            local.add_source(peer.participant_id, peer.publications.get("audio"))

    def _open_slots(self, peer: Peer) -> None:
        """The offer's receive-only m-lines, answered sendonly with a silent track: ready to
        carry other participants' tracks without another offer. Paired audio + video in
        their order, each pair one msid stream (the browser lip-syncs a publisher's two)."""
        for transceiver in peer.pc.getTransceivers():
            if aiortc_hooks.offered_direction(transceiver) != "sendonly" or transceiver.receiver.track is not None:
                continue
            pair = next((p for p in peer.slots if transceiver.kind not in p), None)
            if pair is None:
                pair = {}
                peer.slots.append(pair)
            pair[transceiver.kind] = transceiver
            transceiver.direction = "sendonly"
            prepare_packet_sender(transceiver)
            aiortc_hooks.set_stream_id(transceiver.sender, stream_id(f"{peer.participant_id}/{len(peer.slots)}"))

    async def answer(self, room_id: str, participant_id: str, answer_sdp: str) -> None:
        """Apply a participant's answer to the server offer it was sent."""
        await self._peer(room_id, participant_id).apply_answer(answer_sdp)

    async def leave(self, room_id: str, participant_id: str) -> None:
        """Close a participant's connection and remove its tracks from the others."""
        waiting = self._waiting.get(room_id, {}).pop(participant_id, None)
        if waiting is not None:
            if not self._waiting[room_id]:
                self._waiting.pop(room_id)
            await waiting.close()  # it forwarded nothing: nobody to tell
        room = self._rooms.get(room_id, {})
        peer = room.pop(participant_id, None)
        if peer is None:
            return
        if not room:
            self._rooms.pop(room_id, None)
        for other in room.values():
            if self._unforward_all(other, participant_id):
                self._renegotiate(other)
        for local in self._locals.get(room_id, {}).values():
            local.remove_source(participant_id)
        await peer.close()

    def attach_local(self, room_id: str, local: LocalParticipant) -> None:
        """A participant without a peer connection joins the room's media (see LocalParticipant)."""
        if self.mode != "passthrough":
            raise MediaError("a local participant needs the passthrough mode")
        self._locals.setdefault(room_id, {})[local.participant_id] = local
        for peer in self._rooms.get(room_id, {}).values():
            local.add_source(peer.participant_id, peer.publications.get("audio"))
            if self._forward_all(peer, local):  # type: ignore[arg-type]
                self._renegotiate(peer)

    def detach_local(self, room_id: str, participant_id: str) -> None:
        local = self._locals.get(room_id, {}).pop(participant_id, None)
        if local is None:
            return
        if not self._locals[room_id]:
            self._locals.pop(room_id)
        local.clear_sources()
        for peer in self._rooms.get(room_id, {}).values():
            if self._unforward_all(peer, participant_id):
                self._renegotiate(peer)

    async def close_room(self, room_id: str) -> None:
        """Close every connection of a room, without renegotiating anything."""
        peers = [*self._rooms.pop(room_id, {}).values(), *self._waiting.pop(room_id, {}).values()]
        for local in self._locals.pop(room_id, {}).values():
            local.clear_sources()
        await asyncio.gather(*(peer.close() for peer in peers), return_exceptions=True)

    async def shutdown(self) -> None:
        for room_id in {*self._rooms, *self._waiting}:
            await self.close_room(room_id)

    # --- per-participant controls ------------------------------------------------------------

    def request_keyframes(self, room_id: str) -> None:
        """Someone is being admitted to the room: every video publisher in it is asked for a
        keyframe now (rate-limited as any PLI), so that the newcomer's first picture is on its
        way while admission is still being written; its forward then starts at that keyframe
        (packet_path.KEYFRAME_REPLAY_AGE) instead of asking again once it exists."""
        for peer in self._rooms.get(room_id, {}).values():
            publication = peer.publications.get("video")
            if publication is not None:
                publication.request_keyframe()

    async def set_audio_only(self, room_id: str, participant_id: str, audio_only: bool) -> None:
        """Stop (or resume) sending any video to this participant; no renegotiation needed."""
        peer = self._peer(room_id, participant_id)
        peer.audio_only = audio_only
        for (_, kind), forward in peer.forwards.items():
            if kind == "video":
                forward.pause() if audio_only else forward.resume()

    def frames(self, room_id: str, participant_id: str) -> AsyncGenerator[np.ndarray, None]:
        """Decoded BGR images (numpy, HxWx3) of a participant's video, decoded only while iterated."""
        peer = self._peer(room_id, participant_id)
        publication = peer.publications.get("video")
        if publication is None:
            raise UnknownPeerError(f"{participant_id} in {room_id} sends no video")
        return publication.frames()

    def stats(self) -> dict[str, Any]:
        peers = [peer for room in self._rooms.values() for peer in room.values()]
        forwards = [f for peer in peers for f in peer.forwards.values()]
        return {
            "mode": self.mode,
            "rooms": len(self._rooms),
            "peers": len(peers),
            "published_tracks": sum(len(peer.publications) for peer in peers),
            "forwarded_tracks": len(forwards),
            "paused_tracks": sum(
                1 for peer in peers for (_, kind) in peer.forwards if kind == "video" and peer.audio_only
            ),
            # Passthrough health: holes given up on, keyframes asked of publishers, frames
            # dropped from full subscriber queues.
            "loss_skips": sum(getattr(p, "loss_skips", 0) for peer in peers for p in peer.publications.values()),
            "keyframe_requests": sum(
                getattr(p, "keyframe_requests", 0) for peer in peers for p in peer.publications.values()
            ),
            "dropped_frames": sum(getattr(f, "dropped", 0) for f in forwards),
        }

    # --- internals -----------------------------------------------------------------------------

    def _peer(self, room_id: str, participant_id: str) -> Peer:
        peer = self._rooms.get(room_id, {}).get(participant_id)
        if peer is None:
            raise UnknownPeerError(f"no participant {participant_id!r} in room {room_id!r}")
        return peer

    def _publish(self, transceiver: RTCRtpTransceiver) -> Publication:
        if self.mode == "passthrough":
            if self._packets:
                return PacketPublication(transceiver, remb=self._remb, repeat=self._repair_repeat)
            return PassthroughPublication(transceiver, remb=self._remb)
        assert self._relay is not None
        return RelayPublication(transceiver, self._relay)

    def _forward_all(self, subscriber: Peer, publisher: Peer) -> bool:
        """Send every track of `publisher` to `subscriber`; True if anything was added.
        `subscriber.sdp_changed` says whether its description must change (a track that did
        not go on one of its negotiated slots); a participant that is answered now needs no
        offer otherwise, its answer carries the tracks map."""
        added = False
        # Slots were started as packet-path senders: a publication of frames (the telephone's
        # voice) needs a frame packetizer before its sender starts, so it gets its own m-line.
        on_slots = self._packets and all(isinstance(p, PacketPublication) for p in publisher.publications.values())
        pair = subscriber.take_slots(publisher.publications) if on_slots else {}
        if not pair and not subscriber.answered.is_set():
            # No m-line may be added while the subscriber's own offer is being answered: this
            # publisher goes to it right after (`_connect`), then through an offer.
            subscriber.deferred.append(publisher)
            return False
        for kind, publication in publisher.publications.items():
            codec = publication.codec
            if codec is None:
                continue
            transceiver = pair.get(kind)
            if transceiver is None:  # a new m-line, or an inactive one again: an offer must say so
                transceiver = self._sending_transceiver(subscriber, kind, codec)
                transceiver.setCodecPreferences(codec_preferences(codec))
                transceiver.direction = "sendonly"
                # One msid stream per publisher: the browser groups (and lip-syncs) its audio and video.
                aiortc_hooks.set_stream_id(transceiver.sender, stream_id(publisher.participant_id))
                subscriber.sdp_changed = True
            paused = kind == "video" and subscriber.audio_only
            subscriber.forwards[(publisher.participant_id, kind)] = publication.subscribe(transceiver, paused)
            added = True
        return added

    def _sending_transceiver(self, subscriber: Peer, kind: str, codec: Any) -> RTCRtpTransceiver:
        for transceiver in subscriber.idle:
            current = main_codec(transceiver)
            same = current is not None and (current.mimeType.lower(), current.parameters) == (
                codec.mimeType.lower(),
                codec.parameters,
            )
            if transceiver.kind == kind and same:
                subscriber.idle.remove(transceiver)
                return transceiver
        transceiver = subscriber.pc.addTransceiver(kind, direction="sendonly")
        if self._packets:
            prepare_packet_sender(transceiver)
        elif self.mode == "passthrough":
            prepare_passthrough_sender(transceiver)
        return transceiver

    def _unforward_all(self, subscriber: Peer, publisher_id: str) -> bool:
        """Stop sending `publisher_id`'s tracks to `subscriber`; True if anything was removed."""
        removed = False
        for kind in ("audio", "video"):
            forward = subscriber.forwards.pop((publisher_id, kind), None)
            if forward is None:
                continue
            forward.close()
            forward.transceiver.direction = "inactive"
            if forward.reusable:
                subscriber.idle.append(forward.transceiver)
            removed = True
        return removed

    def _renegotiate(self, peer: Peer) -> None:
        peer.sdp_changed = False  # the offer made next says everything changed until then
        peer.request_offer(self._on_server_offer, self.answer_timeout, self._on_negotiation_failure)

    def _on_negotiation_failure(self, peer: Peer) -> None:
        # A participant that cannot be renegotiated would keep a stale view of the room.
        if self._rooms.get(peer.room_id, {}).get(peer.participant_id) is peer:
            spawn(self.leave(peer.room_id, peer.participant_id), name=f"leave {peer.room_id}/{peer.participant_id}")


async def _no_callback(room_id: str, participant_id: str, payload: dict[str, Any]) -> None:
    logger.warning("no on_server_offer callback: offer for %s/%s dropped", room_id, participant_id)
