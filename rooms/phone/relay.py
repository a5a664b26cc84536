"""A phone's voice carried to its leg on the room's media node (MEDIA_NODES=remote).

The Media Stream reaches this Daphne process; the leg that decodes, encodes and mixes lives
on the node hosting the room (media/nodes/node.py). What the phone says goes there over the
channel layer, in order, by one task: frames queued while a send is under way go together
in the next message (a busy Redis makes fewer, larger messages, not a backlog). The room's
mix comes back to the stream's consumer as `phone.audio` messages (rooms/phone/consumers.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from media.nodes.commands import PHONE_MEDIA, node_channel
from media.phone.bridge import PhoneLeg

log = logging.getLogger("rooms.phone")

KEEPALIVE_S = 1.0
MAX_BATCH = 50  # frames (1 s): more waiting means the node is not taking them; the oldest go


class PhoneRelay:
    def __init__(self, layer: Any, node: str, pid: str, leg: PhoneLeg) -> None:
        self.node, self.pid, self.leg = node, pid, leg
        self._layer = layer
        self._channel = node_channel(node)
        self._frames: list[bytes] = []
        self._wake = asyncio.Event()
        self.dropped = 0
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"phone relay {pid}")
        leg.relay = self.push

    def push(self, mulaw: bytes) -> None:
        self._frames.append(mulaw)
        if len(self._frames) > MAX_BATCH:
            self.dropped += len(self._frames) - MAX_BATCH
            del self._frames[:-MAX_BATCH]
        self._wake.set()

    async def _run(self) -> None:
        while True:
            # Now and then even with nothing to say: the node drops a leg that hears nothing
            # from its Daphne (that process died), and the mute state travels with it.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(KEEPALIVE_S):
                    await self._wake.wait()
            self._wake.clear()
            frames, self._frames = self._frames, []
            try:
                await self._layer.send(self._channel, {"type": PHONE_MEDIA, "pid": self.pid, "frames": frames,
                                                       "muted": self.leg.muted})
            except Exception as error:  # ChannelFull, Redis hiccup: these frames are lost, the call goes on
                self.dropped += len(frames)
                if self.dropped in range(1, MAX_BATCH + 1):
                    log.warning("phone %s: frames for node %s lost (%s)", self.pid, self.node, error)

    async def stop(self) -> None:
        if self.leg.relay == self.push:
            self.leg.relay = None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
