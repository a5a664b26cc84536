"""RED for audio (RFC 2198, media/engine/red.py): parsing, the primary block, renumbering."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.engine.red import MAX_REDUNDANT, encode, fmtp_payload_types, parse, red_fmtp

OPUS = 111

blocks = st.lists(st.tuples(st.integers(0, (1 << 14) - 1), st.binary(max_size=300)), max_size=MAX_REDUNDANT)


def test_a_chromium_red_packet_gives_its_primary_and_keeps_its_redundant_block() -> None:
    # What Chromium sends with `a=fmtp:63 111/111`: the previous 20 ms frame, then this one.
    payload = bytes((0x80 | OPUS, 0x0F, 0x00, 0x03, OPUS)) + b"old" + b"newer"
    red = parse(payload, OPUS)
    assert red is not None
    assert red.redundant == 1
    assert bytes(red.primary()) == b"newer"
    assert payload == encode(OPUS, b"newer", [(960, b"old")])  # offset 960 = one 20 ms frame


def test_renumbering_changes_only_the_block_payload_types() -> None:
    payload = encode(OPUS, b"new", [(1920, b"older"), (960, b"old")])
    red = parse(payload, OPUS)
    assert red is not None
    renumbered = red.renumbered(109)
    again = parse(renumbered, 109)
    assert again is not None and bytes(again.primary()) == b"new"
    assert renumbered == encode(109, b"new", [(1920, b"older"), (960, b"old")])
    assert parse(renumbered, OPUS) is None  # no longer blocks of 111


@pytest.mark.parametrize("payload", [
    b"",  # nothing
    bytes((0x80 | OPUS, 0, 0)),  # a redundant header cut short
    bytes((0x80 | OPUS, 0, 0, 10)) + bytes((OPUS,)) + b"short",  # block longer than what follows
    bytes((0x80 | OPUS, 0, 0, 1)) + b"x",  # no primary header
    bytes((0x80 | 0, 0, 0, 1, OPUS)) + b"x" + b"p",  # a redundant block of another codec (PCMU)
    bytes((63,)) + b"p",  # RED inside RED
    bytes((0x80 | OPUS, 0, 0, 0)) * (MAX_REDUNDANT + 1) + bytes((OPUS,)),  # more blocks than any browser sends
])
def test_malformed_or_foreign_red_is_refused(payload: bytes) -> None:
    assert parse(payload, OPUS) is None


@given(st.binary(max_size=200))
def test_parsing_anything_never_raises_and_what_it_accepts_adds_up(data: bytes) -> None:
    red = parse(data, OPUS)
    if red is None:
        return
    # Accepted: Opus blocks whose lengths fit, the primary the rest; rebuilding gives it back.
    assert all(data[h] & 0x7F == OPUS for h in red.headers)
    assert red.redundant <= MAX_REDUNDANT
    primary = bytes(red.primary())
    assert data.endswith(primary)
    redundant = []
    at = red.headers[-1] + 1
    for h in red.headers[:-1]:
        length = ((data[h + 2] & 3) << 8) | data[h + 3]
        offset = (data[h + 1] << 6) | (data[h + 2] >> 2)
        redundant.append((offset, data[at:at + length]))
        at += length
    assert at == red.primary_start
    assert encode(OPUS, primary, redundant) == data


@given(blocks, st.binary(max_size=300), st.integers(0, 127))
def test_what_a_red_encoder_makes_parses_back_and_renumbers(redundant: list[tuple[int, bytes]], primary: bytes,
                                                            other: int) -> None:
    payload = encode(OPUS, primary, redundant)
    red = parse(payload, OPUS)
    assert red is not None and red.redundant == len(redundant)
    assert bytes(red.primary()) == primary
    renumbered = parse(red.renumbered(other), other)
    assert renumbered is not None and bytes(renumbered.primary()) == primary
    assert red.renumbered(other) == encode(other, primary, redundant)


@given(blocks, st.binary(min_size=1, max_size=300), st.integers(1, 40))
def test_a_truncated_red_payload_is_refused_or_still_well_formed(redundant: list[tuple[int, bytes]],
                                                                 primary: bytes, cut: int) -> None:
    payload = encode(OPUS, primary, redundant)
    red = parse(payload[:-cut], OPUS)
    # Cutting eats the primary first: either the blocks still fit (a shorter primary) or refused.
    if red is not None:
        assert red.primary_start <= len(payload) - cut
        assert bytes(red.primary()) == primary[:len(primary) - cut]


def test_the_fmtp_names_opus_once_per_frame_carried() -> None:
    assert red_fmtp(111) == "111/111"
    assert red_fmtp(109, 2) == "109/109/109"
    assert fmtp_payload_types({"111/111": None}) == [111, 111]
    assert fmtp_payload_types({}) is None
    assert fmtp_payload_types({"a/b": None}) is None
