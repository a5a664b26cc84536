"""The phone leg on its own (no Django, no network): Opus encoded once from the phone's μ-law,
the web's voices decoded, buffered, mixed without the phone's own, sent as 20 ms μ-law."""

from __future__ import annotations

import asyncio

import av
import numpy as np
import pytest

from media.engine.fanout import Fanout
from media.phone import bridge
from media.phone.bridge import PhoneLeg
from media.phone.codec import PHONE_FRAME, Uplink
from tests.notifications.voice import dominant_frequency, mulaw_decode, tone, tone_frames


class WebVoice:
    """A web participant's audio publication as the engine holds it: Opus in a fan-out."""

    kind = "audio"

    def __init__(self, frequency: float) -> None:
        self.fanout = Fanout("audio", lambda: None)
        self.uplink = Uplink()
        self.frequency = frequency
        self.at = 0
        self.ts = 0

    def encoded(self, max_queue: int):
        return self.fanout.subscribe(max_queue=max_queue)

    def speak(self, frames: int = 1) -> None:
        from media.engine.encoded import EncodedFrame

        for _ in range(frames):
            samples = tone(self.frequency, 0.02, start=self.at)
            self.at += len(samples)
            for packet in self.uplink.encode(samples):
                self.fanout.push("opus", [EncodedFrame("opus", packet, self.ts, True, self.fanout.stream)], False)
                self.ts += 960


def decode_opus(packets: list[bytes]) -> np.ndarray:
    decoder = av.CodecContext.create("libopus", "r")
    decoder.sample_rate, decoder.layout = 48000, "mono"
    out = [f.to_ndarray().reshape(-1) for p in packets for f in decoder.decode(av.Packet(p))]
    return np.concatenate(out)


def run(coro):
    return asyncio.run(coro)


def test_the_phones_voice_reaches_every_subscriber_as_the_same_opus_packets():
    async def scenario():
        leg = PhoneLeg("phone", send=_discard)
        leg.attached = True
        first, second = leg.publication.fanout.subscribe(), leg.publication.fanout.subscribe(max_queue=200)
        first._max_queue = 200
        for frame in tone_frames(440, 1.0):
            leg.feed(frame)
        got_first = [await first.recv() for _ in range(len(first._queue))]
        got_second = [await second.recv() for _ in range(len(second._queue))]
        assert len(got_first) >= 45 and [f.data for f in got_first] == [f.data for f in got_second]
        # One packet per 20 ms, timestamps 960 apart (48 kHz).
        assert {b.timestamp - a.timestamp for a, b in zip(got_first, got_first[1:], strict=False)} == {960}
        assert abs(dominant_frequency(decode_opus([f.data for f in got_first])[4800:], 48000) - 440) <= 20
        await leg.close()

    run(scenario())


def test_a_muted_or_waiting_phone_sends_nothing_and_a_pause_is_a_gap_in_timestamps():
    async def scenario():
        now = [0.0]
        leg = PhoneLeg("phone", send=_discard, clock=lambda: now[0])
        track = leg.publication.fanout.subscribe(max_queue=500)
        frames = tone_frames(440, 0.2)
        for frame in frames:  # in the lobby: the call hears nothing of it
            leg.feed(frame)
        assert not track._queue
        leg.attached, leg.muted = True, True
        for frame in frames:
            leg.feed(frame)
        assert not track._queue
        leg.muted = False
        leg.feed(frames[0])
        now[0] += 1.0  # a second without frames from Twilio
        leg.feed(frames[1])
        got = [await track.recv() for _ in range(len(track._queue))]
        assert got[-1].timestamp - got[-2].timestamp >= 40 * 960
        await leg.close()

    run(scenario())


async def _discard(_: bytes) -> None:
    return None


def test_the_phone_hears_the_mix_of_the_web_voices_without_its_own():
    async def scenario():
        sent: list[bytes] = []

        async def send(frame: bytes) -> None:
            sent.append(frame)

        leg = PhoneLeg("phone", send=send)
        agent, interpreter = WebVoice(600), WebVoice(1000)
        leg.add_source("agent", agent)
        leg.add_source("interpreter", interpreter)
        leg.attached = True
        for _ in range(60):
            agent.speak()
            interpreter.speak()
            for frame in tone_frames(440, 0.02):
                leg.feed(frame)  # the phone talks at the same time: not in what it hears
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            sent.append(leg.next_frame())
        heard = mulaw_decode(b"".join(sent[20:]))
        spectrum = np.abs(np.fft.rfft(heard * np.hanning(len(heard))))
        level = {f: spectrum[int(f * len(heard) / 8000)] for f in (440, 600, 1000)}
        assert level[600] > 10 * level[440] and level[1000] > 10 * level[440]
        assert all(len(frame) == PHONE_FRAME for frame in sent)
        leg.remove_source("interpreter")
        assert list(leg._voices) == ["agent"]
        await leg.close()

    run(scenario())


def test_late_bursts_are_capped_and_a_bad_packet_is_skipped():
    async def scenario():
        leg = PhoneLeg("phone", send=_discard)
        agent = WebVoice(600)
        leg.add_source("agent", agent)
        leg.attached = True
        agent.speak(30)  # 600 ms arrive at once (a stalled network catching up)
        leg.next_frame()
        voice = leg._voices["agent"]
        assert len(voice.frames) < bridge.MAX_FRAMES  # the oldest went: no growing delay
        from media.engine.encoded import EncodedFrame

        while voice.frames:  # play out the burst
            leg.next_frame()
        agent.fanout.push("opus", [EncodedFrame("opus", b"\xff" * 7, 0, True, agent.fanout.stream)], False)
        agent.speak(3)
        heard = mulaw_decode(b"".join(leg.next_frame() for _ in range(3)))
        assert leg.malformed == 1  # the bad packet was skipped…
        assert np.abs(heard).max() > 1000  # …and the voice after it is heard
        leg.remove_source("agent")
        assert leg.malformed == 1
        await leg.close()

    run(scenario())


def test_mulaw_tables_match_pyavs_codec():
    """The lookup tables are FFmpeg's pcm_mulaw, both ways, for any sample and byte."""
    from media.phone.codec import MuLaw, _pcm_frame

    decoder = av.CodecContext.create("pcm_mulaw", "r")
    decoder.sample_rate, decoder.layout = 8000, "mono"
    encoder = av.CodecContext.create("pcm_mulaw", "w")
    encoder.sample_rate, encoder.format, encoder.layout = 8000, "s16", "mono"
    import fractions

    encoder.time_base = fractions.Fraction(1, 8000)
    rng = np.random.default_rng(7)
    samples = rng.integers(-32768, 32768, 4000).astype(np.int16)
    data = rng.integers(0, 256, 4000).astype(np.uint8).tobytes()
    mulaw = MuLaw()
    assert mulaw.encode(samples) == b"".join(bytes(p) for p in encoder.encode(_pcm_frame(samples, 8000)))
    assert np.array_equal(mulaw.decode(data),
                          np.concatenate([f.to_ndarray().reshape(-1) for f in decoder.decode(av.Packet(data))]))


def test_the_clock_sends_a_frame_every_20_ms_and_the_lobby_hears_the_chime():
    async def scenario():
        sent: list[bytes] = []
        done = asyncio.Event()

        async def send(frame: bytes) -> None:
            sent.append(frame)
            if len(sent) == 50:
                done.set()

        leg = PhoneLeg("phone", send=send)
        leg.start()
        await asyncio.wait_for(done.wait(), 10)
        await leg.close()
        chime = mulaw_decode(b"".join(sent[:25]))
        assert np.abs(chime).max() > 1000  # the chime's first note
        assert abs(dominant_frequency(chime[:2400]) - 660) <= 20

    run(scenario())


@pytest.mark.parametrize("size", [0, 1, 159, 160, 161, 1000])
def test_the_phone_may_send_any_length(size):
    async def scenario():
        leg = PhoneLeg("phone", send=_discard)
        leg.attached = True
        track = leg.publication.fanout.subscribe(max_queue=500)
        leg.feed(b"\xff" * size)
        leg.feed(b"\xff" * 960)
        assert len(track._queue) >= 1
        await leg.close()

    run(scenario())
