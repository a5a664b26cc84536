"""Twilio Media Stream messages: parsed and checked here, no I/O (fuzzed by the tests).

What Twilio sends (JSON text frames): `connected`, `start` (callSid, streamSid, the
custom parameters of <Stream>, the media format), `media` (base64 μ-law 8 kHz), `dtmf`
(one key), `mark` (a mark we sent has been played), `stop`. What we send: `media`, `mark`,
`clear` (`outgoing_*`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field

MAX_TEXT = 64 * 1024
MAX_PAYLOAD = 8000  # μ-law bytes in one media message: 1 s (Twilio sends 20 ms)
STREAM_SID = re.compile(r"^MZ[0-9a-f]{32}$")
CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")
DIGITS = frozenset("0123456789*#")
EVENTS = frozenset({"connected", "start", "media", "dtmf", "mark", "stop"})


class StreamError(ValueError):
    """A message that is not what Twilio sends: dropped (the call goes on), counted, logged."""


@dataclass(frozen=True)
class Event:
    kind: str
    stream_sid: str = ""
    call_sid: str = ""
    token: str = ""
    audio: bytes = b""
    digit: str = ""
    mark: str = ""
    parameters: dict[str, str] = field(default_factory=dict)


def _text(value: object, what: str, limit: int = 200) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise StreamError(f"{what}: a string of at most {limit} characters expected")
    return value


def _object(value: object, what: str) -> dict:
    if not isinstance(value, dict):
        raise StreamError(f"{what}: an object expected")
    return value


def parse(text: str | None) -> Event:
    if text is None:
        raise StreamError("binary frame: Twilio sends text")
    if len(text) > MAX_TEXT:
        raise StreamError("message too long")
    try:
        message = json.loads(text)
    except ValueError:
        raise StreamError("not JSON") from None
    message = _object(message, "message")
    kind = message.get("event")
    if kind not in EVENTS:
        raise StreamError(f"unknown event {kind!r}"[:80])
    if kind == "connected":
        return Event("connected")
    stream_sid = _text(message.get("streamSid", ""), "streamSid", 34)
    if kind == "start":
        start = _object(message.get("start"), "start")
        stream_sid = _text(start.get("streamSid", stream_sid), "streamSid", 34)
        call_sid = _text(start.get("callSid"), "callSid", 34)
        if not STREAM_SID.match(stream_sid) or not CALL_SID.match(call_sid):
            raise StreamError("start: streamSid MZ… and callSid CA… expected")
        fmt = _object(start.get("mediaFormat", {}), "mediaFormat")
        if (fmt.get("encoding", "audio/x-mulaw"), fmt.get("sampleRate", 8000), fmt.get("channels", 1)) != (
                "audio/x-mulaw", 8000, 1):
            raise StreamError("start: μ-law 8 kHz mono expected")
        custom = _object(start.get("customParameters", {}), "customParameters")
        parameters = {_text(k, "parameter name", 64): _text(v, "parameter value", 512) for k, v in custom.items()}
        return Event("start", stream_sid, call_sid, token=parameters.get("token", ""), parameters=parameters)
    if kind == "media":
        media = _object(message.get("media"), "media")
        if media.get("track", "inbound") not in ("inbound", "inbound_track"):
            raise StreamError("media: inbound track expected")
        payload = _text(media.get("payload"), "payload", MAX_PAYLOAD * 4 // 3 + 4)
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise StreamError("media: payload is not base64") from None
        return Event("media", stream_sid, audio=audio)
    if kind == "dtmf":
        digit = _text(_object(message.get("dtmf"), "dtmf").get("digit"), "digit", 1)
        if digit not in DIGITS:
            raise StreamError("dtmf: one key of 0-9 * # expected")
        return Event("dtmf", stream_sid, digit=digit)
    if kind == "mark":
        return Event("mark", stream_sid, mark=_text(_object(message.get("mark"), "mark").get("name"), "mark"))
    return Event("stop", stream_sid)


def outgoing_media(stream_sid: str, mulaw: bytes) -> str:
    return json.dumps({"event": "media", "streamSid": stream_sid,
                       "media": {"payload": base64.b64encode(mulaw).decode("ascii")}})


def outgoing_mark(stream_sid: str, name: str) -> str:
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def outgoing_clear(stream_sid: str) -> str:
    return json.dumps({"event": "clear", "streamSid": stream_sid})


class Keypad:
    """`*6` toggles the microphone: True when that sequence was just completed."""

    def __init__(self) -> None:
        self._star = False

    def press(self, digit: str) -> bool:
        toggled = self._star and digit == "6"
        self._star = digit == "*"
        return toggled
