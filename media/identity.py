"""Run an ID check on a live video track: sample decoded frames, read the MRZ, stop.

Plain asyncio, no Django. The OCR work runs in a thread so the media engine's event loop
keeps forwarding everyone's packets. Nothing is written anywhere: the one still returned
for the agent's eyes is an in-memory JPEG, dropped by the caller once shown.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import cv2
import numpy as np

from media.idcheck import FrameReader, IdCheckResult, NameMatch, Outcome

log = logging.getLogger(__name__)

STILL_WIDTH = 480  # enough for the agent to see the card, small enough for one message
HINT_INTERVAL = 0.5  # seconds between two hints at most (2/s): a screen reader must keep up

OnHint = Callable[[str], Awaitable[None]]


class HintGate:
    """Lets a hint through only when it differs from the last one sent and the last one
    is at least `interval` seconds old (one frame's hint flickering must not flood the page).

    A change dropped for coming too soon is not lost: the next frame that still shows it
    passes once the interval is over.
    """

    def __init__(self, interval: float = HINT_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval, self._clock = interval, clock
        self.sent: str | None = None
        self._sent_at = float("-inf")

    def admit(self, hint: str | None) -> bool:
        if hint is None or hint == self.sent:
            return False
        now = self._clock()
        if now - self._sent_at < self.interval:
            return False
        self.sent, self._sent_at = hint, now
        return True


def still_of(frame: np.ndarray) -> str:
    """A small JPEG data URL of the frame (in memory only)."""
    height, width = frame.shape[:2]
    if width > STILL_WIDTH:
        frame = cv2.resize(frame, (STILL_WIDTH, int(height * STILL_WIDTH / width)), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode() if ok else ""


def describe(result: IdCheckResult, first_name: str, last_name: str) -> dict[str, Any]:
    """What the agent's page shows (personal data: sent to the agent, never stored)."""
    return {
        "outcome": result.outcome.value,
        "reasons": list(result.reasons),
        "document_format": result.document_format.value if result.document_format else None,
        "document_type": result.document_type,
        "surname": result.surname,
        "given_names": result.given_names,
        "birth_date": result.birth_date.isoformat() if result.birth_date else None,
        "document_number": result.document_number.replace("<", ""),
        "expiry_date": result.expiry_date.isoformat() if result.expiry_date else None,
        "check_digits_valid": result.all_check_digits_valid,
        "expired": result.expired,
        "name_matches": result.name_matches(first_name, last_name) if result.surname else False,
        # The MRZ cut a long name: it agrees as far as it goes ("nom tronqué"), not a mismatch.
        "name_truncated": bool(result.surname) and result.name_match(first_name, last_name) is NameMatch.TRUNCATED,
    }


async def run_check(frames: AsyncGenerator[np.ndarray, None], first_name: str, last_name: str, *,
                    timeout: float = 20.0, fps: float = 4.0, max_frames: int = 60,
                    on_hint: OnHint | None = None) -> tuple[IdCheckResult, str]:
    """Read frames until the reader decides or `timeout` passes; returns (result, still).

    `on_hint(code)` is awaited with the reader's current hint (guidance.Hint) each time it
    changes, at most every HINT_INTERVAL seconds; a failing callback never stops the check.
    """
    reader = FrameReader(first_name, last_name, max_frames=max_frames, timeout_s=timeout)
    gate = HintGate()
    interval, last_taken, still_frame = 1.0 / fps, 0.0, None
    try:
        async with asyncio.timeout(timeout + 5):  # the reader's own budget, plus a slow last frame
            async for frame in frames:
                now = time.monotonic()
                if now - last_taken < interval:
                    continue  # a few frames per second are plenty for OCR (VP8 still decodes them all)
                last_taken = now
                read_before = reader.frames_read
                result = await asyncio.to_thread(reader.feed, frame)
                if reader.frames_read > read_before:
                    still_frame = frame  # the latest frame where an MRZ was read
                if result is not None:
                    break
                if on_hint is not None and gate.admit(reader.hint):
                    try:
                        await on_hint(str(reader.hint))
                    except Exception:  # the page missing a hint must not end the check
                        log.exception("idcheck: hint could not be sent")
    except TimeoutError:
        pass  # no frames (camera off, peer gone): the reader says "unreadable"
    finally:
        with contextlib.suppress(Exception):
            await frames.aclose()  # stops decoding this track
    result = reader.finish()
    still = still_of(still_frame) if still_frame is not None and result.outcome != Outcome.UNREADABLE else ""
    return result, still


async def check_participant(engine: Any, room_id: str, participant_id: str, first_name: str, last_name: str,
                            *, timeout: float = 20.0, on_hint: OnHint | None = None) -> dict[str, Any]:
    """Run a check on a participant's video in `engine`; a plain dict for any transport.
    `on_hint`: see run_check (live guidance while it reads)."""
    result, still = await run_check(engine.frames(room_id, participant_id), first_name, last_name, timeout=timeout,
                                    on_hint=on_hint)
    return {
        "view": describe(result, first_name, last_name),
        "still": still,
        "audit": {"outcome": result.outcome.value, "document_type": result.document_type,
                  "number_last4": result.number_last4},
    }
