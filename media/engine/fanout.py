"""Fan-out of one publisher track's encoded frames to its subscribers.

Frames are pushed in as soon as the receiver assembles them (nothing waits for a reader),
and copied by reference into a small bounded queue per subscriber. A video subscriber
starts at a keyframe, and starts again at one after its queue overflowed, after it was
paused, or after the publisher's stream lost frames; meanwhile it asks for a keyframe,
and the fan-out relays those requests to the publisher at most once per `pli_interval`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .encoded import EncodedFrame

_stream_ids = itertools.count(1)
_NO_OP = EncodedFrame(codec="", data=b"", timestamp=0, keyframe=True)

VIDEO_QUEUE = 30  # ~1 s at 30 fps
AUDIO_QUEUE = 25  # 0.5 s of 20 ms Opus packets


class ForwardedTrack(MediaStreamTrack):
    """A subscriber's view of one publisher track; its `recv()` returns EncodedFrames."""

    def __init__(self, fanout: Fanout, max_queue: int) -> None:
        super().__init__()
        self.kind = fanout.kind
        self._fanout = fanout
        self._max_queue = max_queue
        self._queue: deque[EncodedFrame] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._need_keyframe = fanout.kind == "video"
        self._paused = False
        self._closed = False
        self.dropped = 0
        self.packetizer: Any = None  # the subscriber's sender packetizer: its REMB caps the publisher

    @property
    def paused(self) -> bool:
        return self._paused

    def offer(self, frame: EncodedFrame) -> None:
        """Called by the fan-out, on the event loop, for each new frame."""
        if self._paused or self._closed:
            return
        if self._need_keyframe:
            if not frame.keyframe:
                self._fanout.request_keyframe()
                return
            self._need_keyframe = False
        if len(self._queue) >= self._max_queue:
            self.dropped += len(self._queue) if self.kind == "video" else 1
            if self.kind == "video":
                # Dropping an inter frame breaks the reference chain: restart at a keyframe.
                self._queue.clear()
                if not frame.keyframe:
                    self.restart()
                    return
            else:
                self._queue.popleft()
        self._queue.append(frame)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def restart(self) -> None:
        """Forget queued frames and resume at the next keyframe (video)."""
        self._queue.clear()
        self.wait_for_keyframe()

    def wait_for_keyframe(self) -> None:
        """Frames already queued are still decodable; the ones after a loss are not."""
        if self.kind == "video":
            self._need_keyframe = True
            self._fanout.request_keyframe()

    def pause(self) -> None:
        self._paused = True
        self._queue.clear()

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self.restart()

    def drain(self) -> list[EncodedFrame]:
        """Every queued frame, now, without waiting: for a reader on its own clock (the
        telephone's mixer reads its voices once per 20 ms tick instead of waking per packet)."""
        frames = list(self._queue)
        self._queue.clear()
        return frames

    async def recv(self) -> EncodedFrame:  # type: ignore[override]  # passthrough: encoded frames, not av's
        while not self._queue:
            if self._closed:
                if self.readyState == "live":
                    # One no-op frame lets a sender blocked here notice it was detached
                    # (its track replaced by None) without ending its RTP loop.
                    super().stop()
                    return _NO_OP
                raise MediaStreamError
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._queue.popleft()

    def stop(self) -> None:
        """Detach from the fan-out and wake a pending `recv()`."""
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        self._fanout.unsubscribe(self)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class Fanout:
    """Hands one publisher track's frames to every subscribed ForwardedTrack."""

    def __init__(self, kind: str, send_pli: Callable[[], None], pli_interval: float = 0.5) -> None:
        self.kind = kind
        self.stream = next(_stream_ids)
        self.codec: str | None = None
        self.frames_in = 0
        self.pli_sent = 0
        self._send_pli = send_pli
        self._pli_interval = pli_interval
        self._last_pli = float("-inf")
        self._pli_handle: asyncio.TimerHandle | None = None
        self._subscribers: list[ForwardedTrack] = []
        self._ended = False

    @property
    def subscribers(self) -> list[ForwardedTrack]:
        return list(self._subscribers)

    def subscribe(self, max_queue: int | None = None) -> ForwardedTrack:
        if max_queue is None:
            max_queue = VIDEO_QUEUE if self.kind == "video" else AUDIO_QUEUE
        track = ForwardedTrack(self, max_queue)
        if self._ended:
            track.stop()
            return track
        self._subscribers.append(track)
        if self.kind == "video":
            self.request_keyframe()  # a newcomer needs a picture at once
        return track

    def unsubscribe(self, track: ForwardedTrack) -> None:
        if track in self._subscribers:
            self._subscribers.remove(track)

    def push(self, codec: str, frames: list[EncodedFrame], lost: bool) -> None:
        self.codec = codec
        self.frames_in += len(frames)
        if lost and self.kind == "video":
            for track in self._subscribers:
                track.wait_for_keyframe()
        for frame in frames:
            for track in self._subscribers:
                track.offer(frame)

    def new_stream(self) -> None:
        """A new RTP stream from the publisher: senders rebase timestamps, viewers await a keyframe."""
        self.stream = next(_stream_ids)
        for track in self._subscribers:
            track.wait_for_keyframe()

    def request_keyframe(self) -> None:
        """Rate-limited: at most one PLI per interval; a request inside it is deferred, not lost."""
        if self.kind != "video" or self._ended or self._pli_handle is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._last_pli + self._pli_interval - loop.time()
        if wait <= 0:
            self._fire_pli()
        else:
            self._pli_handle = loop.call_later(wait, self._fire_pli)

    def _fire_pli(self) -> None:
        self._pli_handle = None
        self._last_pli = asyncio.get_running_loop().time()
        self.pli_sent += 1
        self._send_pli()

    def end(self) -> None:
        """The publisher track is gone: wake every subscriber so its sender can detach."""
        self._ended = True
        if self._pli_handle is not None:
            self._pli_handle.cancel()
            self._pli_handle = None
        for track in list(self._subscribers):
            track.stop()
