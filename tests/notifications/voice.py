"""Twilio's voice side, played locally: a caller that behaves like Twilio towards our webhooks
and our Media Stream WebSocket (a sibling of servers.FakeTwilio, which answers the REST API).

- `FakeTwilioVoice.dial()` places an incoming call: it POSTs the voice webhook with a valid
  X-Twilio-Signature (the SDK's RequestValidator.compute_signature, as Twilio signs), then
  follows the TwiML: <Say> is recorded, <Gather> gets the digits it was given (or times
  out to the next verb), <Redirect> is followed, <Hangup> ends, <Connect><Stream> stops
  there with the stream's URL and parameters (the caller then opens it: `MediaSession`).
- `MediaSession` speaks the Media Stream protocol over any text transport: `connected`,
  `start` (with the <Parameter>s), `media` (base64 μ-law 8 kHz, 20 ms frames), `dtmf`,
  `stop`; it echoes `mark`s once "played" and honours `clear`, and keeps what it hears.
The μ-law here is PyAV's codec directly, not the portal's code, so the two check each other.
"""

from __future__ import annotations

import base64
import fractions
import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import av
import numpy as np
from twilio.request_validator import RequestValidator

from tests.notifications.servers import ACCOUNT_SID, AUTH_TOKEN

RATE = 8000
FRAME = 160  # 20 ms

Post = Callable[[str, dict[str, str], str], tuple[int, str]]  # (url, form, signature) -> (status, body)


def signature(url: str, params: dict[str, str], auth_token: str = AUTH_TOKEN) -> str:
    return RequestValidator(auth_token).compute_signature(url, params)


def call_sid() -> str:
    return "CA" + uuid.uuid4().hex


def stream_sid() -> str:
    return "MZ" + uuid.uuid4().hex


# --- audio -------------------------------------------------------------------------------------

def mulaw_encode(samples: np.ndarray) -> bytes:
    codec = av.CodecContext.create("pcm_mulaw", "w")
    codec.sample_rate, codec.format, codec.layout = RATE, "s16", "mono"
    codec.time_base = fractions.Fraction(1, RATE)
    frame = av.AudioFrame.from_ndarray(samples.astype(np.int16).reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = RATE
    return b"".join(bytes(p) for p in codec.encode(frame))


def mulaw_decode(data: bytes) -> np.ndarray:
    codec = av.CodecContext.create("pcm_mulaw", "r")
    codec.sample_rate, codec.layout = RATE, "mono"
    frames = codec.decode(av.Packet(data)) if data else []
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]) if frames else np.zeros(0, np.int16)


def tone(frequency: float = 440.0, seconds: float = 1.0, amplitude: float = 8000.0, start: int = 0) -> np.ndarray:
    t = (np.arange(int(seconds * RATE)) + start) / RATE
    return (np.sin(2 * np.pi * frequency * t) * amplitude).astype(np.int16)


def tone_frames(frequency: float = 440.0, seconds: float = 1.0) -> list[bytes]:
    data = mulaw_encode(tone(frequency, seconds))
    return [data[i:i + FRAME] for i in range(0, len(data), FRAME)]


def dominant_frequency(samples: np.ndarray, rate: int = RATE) -> float:
    if len(samples) < 64:
        return 0.0
    windowed = samples.astype(np.float64) * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(windowed))
    spectrum[: max(1, int(100 * len(samples) / rate))] = 0  # below 100 Hz: hum, not voice
    return float(np.argmax(spectrum) * rate / len(samples))


def energy(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0


# --- the call (webhooks) -------------------------------------------------------------------------

@dataclass
class Call:
    sid: str
    said: list[str] = field(default_factory=list)
    hung_up: bool = False
    stream_url: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)


@dataclass
class FakeTwilioVoice:
    """An incoming call, as Twilio places it. `post` sends one signed form (the test's HTTP
    client or a real one); `voice_url` is the number's "A call comes in" webhook."""

    post: Post
    voice_url: str
    auth_token: str = AUTH_TOKEN
    account_sid: str = ACCOUNT_SID

    def dial(self, to: str, caller: str = "+33612345678", digits: list[str] | None = None,
             sid: str | None = None, sign: bool = True) -> Call:
        call = Call(sid or call_sid())
        queue = list(digits or [])
        base = {"AccountSid": self.account_sid, "CallSid": call.sid, "From": caller, "To": to,
                "Direction": "inbound", "CallStatus": "ringing", "ApiVersion": "2010-04-01"}
        url, form = self.voice_url, dict(base)
        for _ in range(20):  # a TwiML loop is a bug of ours: stop rather than spin
            status, body = self.post(url, form, signature(url, form, self.auth_token) if sign else "bad")
            call.statuses.append(status)
            if status != 200:
                call.hung_up = True  # Twilio plays its "application error" and hangs up
                return call
            next_request = self._follow(ET.fromstring(body), call, queue, base)  # noqa: S314  (our own TwiML)
            if next_request is None:
                return call
            url, form = next_request
        raise AssertionError("the TwiML kept redirecting")

    def _follow(self, response: ET.Element, call: Call, queue: list[str], base: dict[str, str]
                ) -> tuple[str, dict[str, str]] | None:
        assert response.tag == "Response", response.tag
        for verb in response:
            if verb.tag == "Say":
                call.said.append(verb.text or "")
            elif verb.tag == "Gather":
                assert verb.get("input") == "dtmf"
                call.said.extend(s.text or "" for s in verb if s.tag == "Say")
                if queue:
                    return verb.get("action", ""), {**base, "CallStatus": "in-progress", "Digits": queue.pop(0)}
                # No input before the timeout: the next verb.
            elif verb.tag == "Redirect":
                return verb.text or "", {**base, "CallStatus": "in-progress"}
            elif verb.tag == "Hangup":
                call.hung_up = True
                return None
            elif verb.tag == "Connect":
                stream = verb.find("Stream")
                assert stream is not None
                call.stream_url = stream.get("url", "")
                call.parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
                return None  # the caller opens the stream; what follows <Connect> plays after it
            else:
                raise AssertionError(f"TwiML verb Twilio would not expect here: {verb.tag}")
        call.hung_up = True  # the end of the TwiML: Twilio hangs up
        return None


# --- the Media Stream ----------------------------------------------------------------------------

Send = Callable[[str], Awaitable[None]]


@dataclass
class MediaSession:
    """One Media Stream as Twilio runs it, over `send` (text frames); `heard()` takes what
    the server sends back (call it for each text frame received)."""

    send: Send
    call_sid: str
    stream_sid: str = field(default_factory=stream_sid)
    sequence: int = 0
    chunk: int = 0
    received: bytearray = field(default_factory=bytearray)
    marks: list[str] = field(default_factory=list)
    clears: int = 0
    media_messages: int = 0
    echo_marks: bool = True  # False: a caller whose playback fell behind (marks not played yet)

    def _next(self) -> str:
        self.sequence += 1
        return str(self.sequence)

    async def connected(self) -> None:
        await self.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))

    async def start(self, parameters: dict[str, str], *, call_sid: str | None = None) -> None:
        await self.send(json.dumps({
            "event": "start", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
            "start": {"accountSid": ACCOUNT_SID, "streamSid": self.stream_sid, "callSid": call_sid or self.call_sid,
                      "tracks": ["inbound"], "customParameters": parameters,
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}))

    async def media(self, payload: bytes | str) -> None:
        self.chunk += 1
        text = payload if isinstance(payload, str) else base64.b64encode(payload).decode()
        await self.send(json.dumps({
            "event": "media", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
            "media": {"track": "inbound", "chunk": str(self.chunk), "timestamp": str(self.chunk * 20),
                      "payload": text}}))

    async def dtmf(self, digit: str) -> None:
        await self.send(json.dumps({"event": "dtmf", "streamSid": self.stream_sid, "sequenceNumber": self._next(),
                                    "dtmf": {"track": "inbound_track", "digit": digit}}))

    async def stop(self) -> None:
        await self.send(json.dumps({"event": "stop", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
                                    "stop": {"accountSid": ACCOUNT_SID, "callSid": self.call_sid}}))

    async def heard(self, text: str) -> None:
        message = json.loads(text)
        event = message.get("event")
        assert message.get("streamSid") == self.stream_sid, message
        if event == "media":
            self.media_messages += 1
            self.received.extend(base64.b64decode(message["media"]["payload"]))
        elif event == "mark":
            self.marks.append(message["mark"]["name"])
            if not self.echo_marks:
                return
            # Played at once (this caller has no playback queue): echoed, as Twilio does.
            await self.send(json.dumps({"event": "mark", "sequenceNumber": self._next(),
                                        "streamSid": self.stream_sid, "mark": message["mark"]}))
        elif event == "clear":
            self.clears += 1
        else:
            raise AssertionError(f"Twilio does not accept {event!r}")

    def audio(self, last_seconds: float | None = None) -> np.ndarray:
        samples = mulaw_decode(bytes(self.received))
        if last_seconds is not None:
            samples = samples[-int(last_seconds * RATE):]
        return samples
