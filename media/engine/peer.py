"""One participant's RTCPeerConnection and its negotiation queue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpCodecParameters, RTCRtpTransceiver, RTCSessionDescription

from . import aiortc_hooks
from .background import spawn
from .errors import MediaTimeout, NegotiationError, SdpError
from .modes import Forward, Publication
from .sdp_check import check_description

logger = logging.getLogger(__name__)

OfferCallback = Callable[[str, str, dict[str, Any]], Awaitable[None]]
# Video codec parameters that must agree for a stream to decode on a slot's payload type.
_MUST_MATCH = ("packetization-mode", "profile-level-id")


def slot_fits(transceiver: RTCRtpTransceiver, codec: RTCRtpCodecParameters) -> bool:
    """Whether `codec`'s packets can go on this transceiver as negotiated: the packet path
    sends them with the first negotiated payload type of the same codec (packet_path)."""
    mime = codec.mimeType.lower()
    same = next((c for c in aiortc_hooks.negotiated_codecs(transceiver) if c.mimeType.lower() == mime), None)
    return same is not None and all(
        str(same.parameters.get(key, "")).lower() == str(codec.parameters.get(key, "")).lower() for key in _MUST_MATCH)


class Peer:
    """A participant: what it publishes, what it receives, and one offer in flight at most."""

    def __init__(self, room_id: str, participant_id: str, pc: RTCPeerConnection, gather_timeout: float) -> None:
        self.room_id = room_id
        self.participant_id = participant_id
        self.pc = pc
        self.gather_timeout = gather_timeout
        self.publications: dict[str, Publication] = {}  # kind -> what this participant sends
        self.forwards: dict[tuple[str, str], Forward] = {}  # (publisher id, kind) -> what it receives
        self.idle: list[RTCRtpTransceiver] = []  # inactive sendonly transceivers, reusable
        # Receive-only m-lines of the browser's offer, answered sendonly and not used yet:
        # pairs {"audio": t, "video": t}, each one msid stream (engine._open_slots). A
        # publisher put there reaches the browser without another offer.
        self.slots: list[dict[str, RTCRtpTransceiver]] = []
        self.sdp_changed = False  # forwards added that the last description does not carry
        self.deferred: list[Any] = []  # publishers to forward once answered (no slot for them)
        self.answer_sdp = ""
        # Set once the answer to the browser's offer is made: no server offer before it.
        self.answered = asyncio.Event()
        self.audio_only = False
        self.closed = False
        self._needs_offer = False
        self._task: asyncio.Task[None] | None = None
        self._answer: asyncio.Future[None] | None = None

    # --- descriptions ---------------------------------------------------------------------

    async def set_local(self) -> str:
        """setLocalDescription with ICE gathering capped; returns the local SDP."""
        aiortc_hooks.cap_gathering(self.pc, self.gather_timeout)
        try:
            await asyncio.wait_for(self.pc.setLocalDescription(), self.gather_timeout + 5)
        except TimeoutError:
            raise MediaTimeout(f"ICE gathering took longer than {self.gather_timeout + 5:.0f} s")
        self.answered.set()
        return self.pc.localDescription.sdp

    def take_slots(self, publications: Mapping[str, Publication]) -> dict[str, RTCRtpTransceiver]:
        """A free slot pair that can carry all of a publisher's tracks (same codec), taken;
        {} when none can (the engine then adds m-lines and renegotiates)."""
        wanted = {kind: p.codec for kind, p in publications.items() if p.codec is not None}
        for pair in self.slots:
            if wanted and all(kind in pair and slot_fits(pair[kind], codec) for kind, codec in wanted.items()):
                self.slots.remove(pair)
                return pair
        return {}

    def tracks(self) -> dict[str, dict[str, str]]:
        """mid -> {participant_id, kind} for every remote track this peer currently receives."""
        out = {}
        for (publisher, kind), forward in self.forwards.items():
            mid = forward.transceiver.mid
            if mid is not None:
                out[mid] = {"participant_id": publisher, "kind": kind}
        return out

    # --- renegotiation ----------------------------------------------------------------------

    def request_offer(self, on_offer: OfferCallback, answer_timeout: float, on_failure: Callable[[Peer], None]) -> None:
        """Queue a server offer; at most one is in flight, later requests coalesce into the next."""
        if self.closed:
            return
        self._needs_offer = True
        if self._task is None or self._task.done():
            self._task = spawn(self._negotiate(on_offer, answer_timeout, on_failure),
                               name=f"negotiate {self.room_id}/{self.participant_id}")

    async def _negotiate(
        self, on_offer: OfferCallback, answer_timeout: float, on_failure: Callable[[Peer], None]
    ) -> None:
        await self.answered.wait()  # the browser's own offer is answered first
        while self._needs_offer and not self.closed:
            self._needs_offer = False
            try:
                sdp = await self.set_local()
            except Exception:
                logger.exception("server offer for %s/%s failed", self.room_id, self.participant_id)
                on_failure(self)
                return
            loop = asyncio.get_running_loop()
            self._answer = loop.create_future()
            payload = {"type": "offer", "sdp": sdp, "tracks": self.tracks()}
            try:
                await on_offer(self.room_id, self.participant_id, payload)
            except Exception:
                # The message may still have gone out: keep waiting for the answer.
                logger.exception("on_server_offer callback failed for %s/%s", self.room_id, self.participant_id)
            try:
                await asyncio.wait_for(asyncio.shield(self._answer), answer_timeout)
            except TimeoutError:
                logger.warning("no answer from %s/%s in %.0f s", self.room_id, self.participant_id, answer_timeout)
                self._answer = None
                on_failure(self)
                return
            self._answer = None

    async def apply_answer(self, answer_sdp: str) -> None:
        if self._answer is None or self._answer.done():
            raise NegotiationError(f"{self.participant_id}: no server offer is waiting for an answer")
        check_description(answer_sdp, "answer")
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))
        except Exception as exc:
            raise SdpError(f"answer rejected: {type(exc).__name__}: {exc}")
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(None)

    async def close(self) -> None:
        self.closed = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
        for forward in self.forwards.values():
            forward.close()
        self.forwards.clear()
        for publication in self.publications.values():
            publication.end()
        try:
            await asyncio.wait_for(self.pc.close(), 10)
        except TimeoutError:
            logger.warning("closing %s/%s timed out", self.room_id, self.participant_id)
