"""The packet cores (packet_core.py): the compiled one forwards what the Python reference does,
byte for byte through libsrtp, refuses what it refuses, and is the one the engine uses where
it is built."""

from __future__ import annotations

import logging
import os
import random
import struct
import subprocess
import sys

import pylibsrtp
import pytest

from media.engine import packet_core, packet_core_build
from media.engine.packets import (
    ABS_SEND_TIME_URI,
    MID_URI,
    TRANSPORT_CC_URI,
    ExtensionMapper,
    MalformedPacket,
    Rewriter,
    build_extensions,
    parse_rtp,
    payload_of,
    rewrite,
    rtx_packet,
)

from .cores import CORES, compiled_core

KEY = os.urandom(30)
PUBLISHER = {2: ABS_SEND_TIME_URI, 3: TRANSPORT_CC_URI, 4: MID_URI, 13: "urn:3gpp:video-orientation"}
SUBSCRIBER = {1: MID_URI, 3: ABS_SEND_TIME_URI, 7: "urn:3gpp:video-orientation"}


def session(direction: int) -> pylibsrtp.Session:
    profile = pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80
    return pylibsrtp.Session(policy=pylibsrtp.Policy(key=KEY, ssrc_type=direction, srtp_profile=profile))


def publisher_packet(sequence: int, elements: list[tuple[int, bytes]] | None = None, padding: int = 0,
                     rng: random.Random | None = None) -> bytes:
    if elements is None:
        elements = [(2, b"\x01\x02\x03"), (3, struct.pack("!H", sequence)), (4, b"0"), (13, b"\x01")]
    first = 0x90 | (0x20 if padding else 0) | 1  # one CSRC: dropped by the rewrite
    header = struct.pack("!BBHIII", first, 0x80 | 96, sequence, 3000 * sequence, 0x1234, 0x5678)
    tail = bytes(padding - 1) + bytes((padding,)) if padding else b""
    size = 40 + 90 * (sequence % 12)
    return header + build_extensions(elements) + (rng.randbytes(size) if rng else os.urandom(size)) + tail


@pytest.mark.parametrize("core", CORES)
def test_forwarded_packets_are_the_references_bytes_through_srtp(core: packet_core.Core) -> None:
    mapper = ExtensionMapper(PUBLISHER, SUBSCRIBER, "5")
    forwarder = core.forwarder(session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND), mapper, 0xABCDEF01)
    reference = session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    receiver = session(pylibsrtp.Policy.SSRC_ANY_INBOUND)
    for sequence in range(30):
        view = parse_rtp(publisher_packet(sequence, padding=4 * (sequence % 3)))
        ntp = (sequence << 32) | 0x8000_0000
        expected = rewrite(view, 0xABCDEF01, 97, 500 + sequence, 9000 * sequence, mapper.block(view.extensions, ntp))
        protected = forwarder.forward(view, 97, 500 + sequence, 9000 * sequence, ntp)
        assert protected == reference.protect(expected)
        assert receiver.unprotect(protected) == expected


@pytest.mark.parametrize("core", CORES)
def test_a_payload_in_place_of_the_packets_and_parts_made_here(core: packet_core.Core) -> None:
    mapper = ExtensionMapper(PUBLISHER, SUBSCRIBER, None)
    forwarder = core.forwarder(None, mapper, 7)
    view = parse_rtp(publisher_packet(3))
    replaced = forwarder.forward(view, 111, 1, 2, 0, memoryview(b"primary block"))
    assert replaced == rewrite(view, 7, 111, 1, 2, mapper.block(view.extensions, 0))[:-len(payload_of(view))] + \
        b"primary block"
    header = struct.pack("!BBHII", 0xA0, 96, 9, 10, 7)
    assert forwarder.protect(header, b"", b"\x00\x00\x00\x04") == header + b"\x00\x00\x00\x04"


@pytest.mark.parametrize("core", CORES)
def test_an_extension_too_long_for_the_one_byte_form_takes_the_generic_one(core: packet_core.Core) -> None:
    """Two-byte form upstream (a 20-byte value): the subscriber gets it in the two-byte form too."""
    mapper = ExtensionMapper({9: "urn:x:long", 4: MID_URI}, {2: "urn:x:long", 1: MID_URI}, "0")
    view = parse_rtp(publisher_packet(1, [(9, bytes(range(20))), (4, b"0")]))
    out = core.forwarder(None, mapper, 1).forward(view, 96, 1, 1, 0)
    assert out == rewrite(view, 1, 96, 1, 1, mapper.block(view.extensions, 0))
    assert parse_rtp(out).extensions == [(2, bytes(range(20))), (1, b"0")]


@pytest.mark.parametrize("core", CORES)
def test_forged_replayed_and_oversized_packets_are_refused(core: packet_core.Core) -> None:
    sender = core.forwarder(session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND), ExtensionMapper({}, {}, None), 1)
    unprotect = core.unprotector(session(pylibsrtp.Policy.SSRC_ANY_INBOUND))
    view = parse_rtp(publisher_packet(1))
    protected = sender.forward(view, 96, 1, 1, 0)
    with pytest.raises(pylibsrtp.Error):
        unprotect(protected[:-1] + bytes([protected[-1] ^ 1]))  # forged
    assert unprotect(protected) == rewrite(view, 1, 96, 1, 1, b"")
    with pytest.raises(pylibsrtp.Error):
        unprotect(protected)  # replayed
    with pytest.raises(ValueError):
        sender.forward(view, 96, 2, 2, 0, b"\x00" * 1500)
    with pytest.raises(ValueError):
        unprotect(b"\x80" + bytes(1600))


def test_the_compiled_core_is_the_one_used_where_it_is_built() -> None:
    """./dev builds it (CI too): there the engine must forward with it, not fall back."""
    if os.environ.get("GV_PACKET_CORE") == "python":
        pytest.skip("the Python core was asked for")
    if not packet_core_build.target().exists() and not os.environ.get("CI"):
        pytest.skip("compiled packet core not built here")
    assert packet_core.COMPILED is not None
    assert packet_core.ACTIVE is packet_core.COMPILED


def test_without_the_compiled_core_the_python_one_forwards_and_says_so(monkeypatch: pytest.MonkeyPatch,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(packet_core, "COMPILED", None)
    monkeypatch.delenv("GV_PACKET_CORE", raising=False)
    with caplog.at_level(logging.WARNING, logger="media.engine.packet_core"):
        assert packet_core._choose() is packet_core.PYTHON
    assert "compiled core is not built" in caplog.text
    with pytest.raises(ValueError):
        packet_core.implementation("compiled")


def test_a_module_built_from_other_sources_is_not_used(monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """A stale build (its structs may be laid out differently) is refused, with a log line."""
    compiled_core()  # fails in CI, where it must be built
    monkeypatch.setattr(packet_core_build, "source_id", lambda: -1)
    with caplog.at_level(logging.WARNING, logger="media.engine.packet_core"):
        assert packet_core._load() is None
    assert "built from other sources" in caplog.text


def test_a_failed_build_is_reported_and_leaves_what_was_there() -> None:
    target = packet_core_build.target()
    before = target.stat().st_mtime_ns if target.exists() else None
    result = subprocess.run([sys.executable, packet_core_build.__file__], capture_output=True, text=True,
                            env={**os.environ, "CC": "false"}, check=False)
    assert result.returncode == 1
    assert "Python path" in result.stderr
    assert (target.stat().st_mtime_ns if target.exists() else None) == before


def _inspected(core: packet_core.Core, data: bytes, codec: str) -> tuple[object, ...] | None:
    try:
        view, tcc, abs_time = core.inspector(3, 2, codec)(data)
    except MalformedPacket:
        return None
    return (view.marker, view.payload_type, view.sequence, view.timestamp, view.ssrc, view.start, view.end,
            view.keyframe, tcc, abs_time, view.extensions)


@pytest.mark.parametrize("codec", ["vp8", "h264", "opus", "vp9"])
def test_inspected_packets_are_the_references(codec: str) -> None:
    # The receive side's reading (gv_inspect): the same fields, extension values and keyframe
    # starts as the Python reference, and the same refusals, on valid, truncated and random packets.
    compiled_core()  # fails in CI, where it must be built
    rng = random.Random(20)
    cases = [publisher_packet(s) for s in range(40)] + [publisher_packet(7, padding=5)]
    cases += [publisher_packet(9, [(2, b"\x01\x02"), (3, b"\x00\x01\x02"), (3, b"\x00\x05")])]  # wrong sizes first
    cases += [b"\x90" + bytes(11) + b"\x10\x00\x00\x02" + bytes([3, 2, 0, 9, 2, 3, 1, 2]) + b"\x10\x03"]  # two-byte
    keyframes = [b"\x90\xe0\x80\x01\x00", b"\x10\x00\x9d", b"\x65\x88", b"\x18\x00\x02\x67\x42\x00\x01\x68",
                 b"\x7c\x85\x88", b"\x41\x9a"]
    cases += [b"\x80\x60\x00\x01" + bytes(8) + payload for payload in keyframes]
    for data in list(cases):
        cases += [data[:cut] for cut in (0, 5, 11, 12, 13, 15, 16, 18, 20)]
        cases.append(bytes(b ^ (1 << rng.randrange(8)) if rng.random() < 0.05 else b for b in data))
    cases += [bytes(rng.randrange(256) for _ in range(rng.randrange(40))) for _ in range(300)]
    compiled = packet_core.implementation("compiled")
    refused = 0
    for data in cases:
        expected = _inspected(packet_core.PYTHON, data, codec)
        refused += expected is None
        assert _inspected(compiled, data, codec) == expected, data.hex()
    assert 0 < refused < len(cases)


def _random_extension_block(rng: random.Random) -> bytes:
    """A header extension block of any form (RFC 8285 one-byte with padding and the id 15
    terminator, two-byte with empty and long values, an unknown profile), sometimes with a
    length word that lies."""
    form = rng.choice(("one", "two", "other"))
    body = bytearray()
    for _ in range(rng.randrange(6)):
        body += bytes(rng.randrange(3) == 0 and rng.randrange(1, 3) or 0)  # padding bytes
        if form == "one":
            ident, size = rng.choice((1, 2, 3, 4, 9, 13, 14, 15)), rng.randrange(1, 17)
            body += bytes([(ident << 4) | (size - 1)]) + bytes(rng.randrange(256) for _ in range(size))
        else:
            ident, size = rng.choice((1, 2, 3, 4, 9, 13, 20, 255)), rng.choice((0, 1, 2, 3, 16, 17, 30))
            body += bytes([ident, size]) + bytes(rng.randrange(256) for _ in range(size))
    body += bytes(-len(body) % 4)
    profile = {"one": 0xBEDE, "two": 0x1000 | rng.randrange(16), "other": rng.randrange(0x10000)}[form]
    words = len(body) // 4 + (rng.choice((-1, 1)) if rng.random() < 0.1 else 0)
    return struct.pack("!HH", profile, max(words, 0)) + bytes(body)


def test_both_cores_read_and_map_any_extension_block_alike() -> None:
    """The forward's mapping (map_extensions) and the receive side's reading (gv_inspect) walk
    the elements with the same C code: on blocks of every form, valid or not, both give what the
    Python reference gives (the same bytes, the same refusals)."""
    compiled_core()  # fails in CI, where it must be built
    compiled = packet_core.implementation("compiled")
    publisher = {**PUBLISHER, 9: "urn:x:long", 20: "urn:x:big"}
    mapper = ExtensionMapper(publisher, {**SUBSCRIBER, 2: "urn:x:long", 5: "urn:x:big"}, "5")
    rng = random.Random(8285)
    forwarded = refused = 0
    for sequence in range(600):
        data = struct.pack("!BBHII", 0x90, 96, sequence, 1000, 0x1234) + _random_extension_block(rng) + b"\x10\x00\x9d"
        assert _inspected(compiled, data, "vp8") == _inspected(packet_core.PYTHON, data, "vp8"), data.hex()
        try:
            view = parse_rtp(data)
        except MalformedPacket:
            refused += 1
            continue
        results = []
        for core in (packet_core.PYTHON, compiled):
            try:
                results.append(core.forwarder(None, mapper, 7).forward(view, 97, sequence, 5, 1 << 40))
            except (MalformedPacket, ValueError) as error:
                results.append(type(error))
        assert results[0] == results[1], data.hex()
        forwarded += isinstance(results[0], bytes)
    assert forwarded > 100 and refused > 10


def _publication_run(core: packet_core.Core, seed: int) -> list[object]:
    """A video and an audio publication through `core`'s history and numbering, one
    subscriber each: loss, reordering, duplicates, a restart (switch) waiting for a keyframe,
    NACKs answered from the history as RTX, extension ids of both forms; everything the
    subscriber receives, and its numbering's figures, in order."""
    rng = random.Random(seed)
    history = core.history(64)
    video = core.numbering(90000, True, rng.randrange(0x10000), rng.randrange(1 << 32))
    audio = core.numbering(48000, False, rng.randrange(0x10000), rng.randrange(1 << 32))
    generic = seed % 4 == 0  # a two-byte extension upstream: the forward's Python form
    mapper = ExtensionMapper({**PUBLISHER, 9: "urn:x:long"}, {**SUBSCRIBER, 2: "urn:x:long"}, "5")
    forwarder = core.forwarder(None, mapper, 0xABCDEF01)
    out: list[object] = []
    first = rng.randrange(0x10000)
    pending = [(first + i) & 0xFFFF for i in range(400)]
    now = 10.0
    while pending:
        step = rng.random()
        if step < 0.1 and len(pending) > 3:  # reordered
            pending[0], pending[2] = pending[2], pending[0]
        sequence = pending.pop(0)
        now += 0.004
        ntp = int(now * (1 << 32))
        if rng.random() < 0.08:
            continue  # lost upstream: a hole in the history
        elements = [(3, struct.pack("!H", sequence)), (4, b"0"), (13, b"\x01")]
        if generic and sequence % 7 == 0:
            elements.append((9, bytes(20)))
        view = parse_rtp(publisher_packet(sequence, elements, rng=rng))
        view.keyframe = (sequence - first) % 50 == 0
        history.add(view)
        out.append(("video", forwarder.forward_stored(video, history, sequence, 97, now, ntp)))
        if rng.random() < 0.05:
            history.add(view)  # duplicate: the numbering places it again, same number
            out.append(("dup", forwarder.forward_stored(video, history, sequence, 97, now, ntp)))
        if sequence % 3 == 0:
            audio_view = parse_rtp(publisher_packet(sequence, rng=rng))
            payload = memoryview(b"primary") if sequence % 6 == 0 else None
            out.append(("audio", forwarder.forward_mapped(audio, audio_view, 111, now, ntp, payload)))
        if step > 0.97:
            video.restart()  # another publisher on this sender: waits for a keyframe
            out.append(("waiting", video.waiting))
        if step < 0.05 and video.started:  # a NACK for a recent output number: answered as RTX
            asked = (video.sent_sequence(sequence) or 0) - rng.randrange(1, 80)
            input_sequence = video.input_sequence(asked & 0xFFFF)
            stored = history.get(input_sequence) if input_sequence is not None else None
            mapped = video.map(stored.sequence, stored.timestamp, stored.keyframe, now) if stored else None
            out.append(("nack", stored.data if stored else None, mapped))
            if stored is not None and mapped is not None:
                out.append(forwarder.protect(rtx_packet(stored, 0x5555, 98, sequence, mapped[1], mapped[0],
                                                        mapper.block(stored.extensions, ntp)), b"", b""))
        out.append((video.packets, video.octets, audio.packets, audio.octets, video.last_timestamp,
                    video.output_timestamp(view.timestamp), audio.timestamp_at(now + 0.5)))
    out.append(video.holes(lambda s: history.state(s) >= 0, history.size))
    out.append([history.state((first + i) & 0xFFFF) for i in range(400)])
    return out


@pytest.mark.parametrize("seed", range(12))
def test_the_compiled_history_and_numbering_forward_what_the_reference_does(seed: int) -> None:
    """The C ring and numbering (gv_ring_forward, gv_forward_mapped) against packets.History
    and Rewriter with the Python forward: byte for byte over loss, reordering, duplicates,
    switches (keyframe start), NACK answers as RTX, and the same counts for sender reports."""
    compiled_core()  # fails in CI, where it must be built
    expected = _publication_run(packet_core.PYTHON, seed)
    assert sum(1 for item in expected if isinstance(item, tuple) and item[0] == "video" and item[1]) > 50
    assert any(isinstance(item, tuple) and item[0] == "video" and item[1] is None for item in expected)  # waited
    assert _publication_run(packet_core.implementation("compiled"), seed) == expected


def test_the_compiled_history_and_numbering_are_the_ones_the_compiled_core_makes() -> None:
    compiled_core()  # fails in CI, where it must be built
    compiled = packet_core.implementation("compiled")
    assert type(compiled.history()).__name__ == "_CompiledHistory"
    assert type(compiled.numbering(90000, True, 0, 0)).__name__ == "_CompiledNumbering"
    history = compiled.history(4)
    view = parse_rtp(publisher_packet(5))
    history.add(view)
    held = history.get(5)
    assert held is not None and held.data == view.data and held.data is not view.data  # a copy, kept in C


def test_a_compiled_numbering_goes_on_as_the_reference_in_the_same_state() -> None:
    """A subscriber the engine starts protecting with FEC leaves the C numbering mid-stream
    (python_numbering): the reference then maps what follows, late packets included, to the
    numbers the C numbering would have given, and the sender-report counts carry over."""
    compiled_core()  # fails in CI, where it must be built
    compiled = packet_core.implementation("compiled")
    rng = random.Random(4242)
    numbering = compiled.numbering(90000, True, 5000, 77)
    twin = compiled.numbering(90000, True, 5000, 77)
    sequence, timestamp, now = 65000, 1000, 100.0
    for step in range(700):  # across the 16-bit wrap, with losses
        sequence = (sequence + rng.choice((1, 1, 1, 2))) & 0xFFFF
        timestamp = (timestamp + 3000) & 0xFFFFFFFF
        now += 0.01
        for one in (numbering, twin):
            assert one.map(sequence, timestamp, step == 0, now) is not None
            one.count(1000)
    reference = packet_core.python_numbering(numbering)
    assert type(reference) is Rewriter and packet_core.python_numbering(reference) is reference
    assert (reference.packets, reference.octets) == (twin.packets, twin.octets) == (700, 700_000)
    for late in range(1, 40):  # late packets, then new ones
        old = (sequence - late) & 0xFFFF
        assert reference.map(old, timestamp, False, now) == twin.map(old, timestamp, False, now)
    for _ in range(50):
        sequence, timestamp, now = (sequence + 1) & 0xFFFF, (timestamp + 3000) & 0xFFFFFFFF, now + 0.01
        assert reference.map(sequence, timestamp, False, now) == twin.map(sequence, timestamp, False, now)


@pytest.mark.parametrize("core", CORES)
def test_a_long_mapping_still_places_late_packets_past_the_16_bit_wrap(core: packet_core.Core) -> None:
    """A mapping started once and run on for 200,000 packets: every few packets one 5 to 60
    behind comes again (a retransmission, a late packet) and keeps its number, including
    just after each 65,536th packet since the start, where a start never moved forward
    would read as only a few packets back and refuse it."""
    numbering = core.numbering(90000, True, 100, 0)
    sequence, refused = 40000, []
    first = numbering.map(sequence, 0, True, 0.0)
    assert first is not None
    given = {sequence: first[0]}
    for step in range(1, 200_000):
        sequence = (sequence + 1) & 0xFFFF
        mapped = numbering.map(sequence, step * 3000, False, step / 1000)
        assert mapped is not None
        given[sequence] = mapped[0]
        if step % 7 == 0 and step > 60:
            late = (sequence - 5 - step % 56) & 0xFFFF
            again = numbering.map(late, 0, False, step / 1000)
            if again is None or again[0] != given[late]:
                refused.append(step)
    assert refused == []
