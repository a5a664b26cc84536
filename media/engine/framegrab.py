"""Decoded frames of one participant's video, for the ID-card check.

Passthrough: subscribe to the publisher's fan-out like any viewer (starting at a keyframe)
and decode in a worker thread, only while the iterator is consumed; closing the iterator
unsubscribes and drops the decoder. Relay: the receiver decodes anyway, read a relay proxy.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator
from typing import Any

import numpy as np
from aiortc import RTCRtpCodecParameters
from aiortc.codecs import get_decoder
from aiortc.contrib.media import MediaRelay
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from .encoded import H264, EncodedFrame
from .fanout import Fanout

GRAB_QUEUE = 4  # a slow consumer skips to the next keyframe rather than lag behind


def _decode(decoder: Any, frame: EncodedFrame) -> list[np.ndarray]:
    images = decoder.decode(JitterFrame(data=frame.data, timestamp=frame.timestamp))
    return [image.to_ndarray(format="bgr24") for image in images]


async def decoded_frames(fanout: Fanout) -> AsyncGenerator[np.ndarray, None]:
    """Yield BGR images of a passthrough publisher's video, decoding only on demand."""
    track = fanout.subscribe(max_queue=GRAB_QUEUE)
    decoder = None
    loop = asyncio.get_running_loop()
    try:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not frame.data:
                return  # publisher left
            if decoder is None:
                mime = "video/H264" if frame.codec == H264 else "video/VP8"
                decoder = get_decoder(RTCRtpCodecParameters(mimeType=mime, clockRate=90000, payloadType=96))
            for image in await loop.run_in_executor(None, _decode, decoder, frame):
                yield image
    finally:
        track.stop()
        decoder = None


async def relayed_frames(relay: MediaRelay, source: MediaStreamTrack) -> AsyncGenerator[np.ndarray, None]:
    """Yield BGR images of a relay-mode publisher's (already decoded) video."""
    proxy = relay.subscribe(source, buffered=False)
    loop = asyncio.get_running_loop()
    try:
        while True:
            try:
                frame = await proxy.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, VideoFrame)  # a video track's relay yields video frames
            yield await loop.run_in_executor(None, functools.partial(frame.to_ndarray, format="bgr24"))
    finally:
        proxy.stop()
