"""The playout delay the engine asks of a publisher's viewers (playout_hint.py), on plain numbers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from media.engine.playout_hint import CAP_MS, FREEZE_RTT, REPAIRS, STEP_MS, WINDOW, PlayoutHint


def test_nothing_asked_on_a_clean_uplink_nor_for_one_stray_loss() -> None:
    hint = PlayoutHint()
    assert hint.current(0.0, 0.18) == 0
    hint.repaired(1.0)
    assert hint.current(1.0, 0.18) == 0


def test_repairs_ask_one_and_a_half_round_trips_rounded_up_and_capped() -> None:
    hint = PlayoutHint()
    for t in range(REPAIRS):
        hint.repaired(1.0 + t * 0.1)
    assert hint.current(1.2, 0.18) == 270  # 1.5 x 180 ms
    assert hint.current(1.2, 0.181) == 280  # 271.5 ms, in the extension's 10 ms units
    assert hint.current(1.2, 0.62) == CAP_MS  # a queue's round trip: lip sync would hold the audio as long


def test_repairs_faster_than_a_freeze_ask_nothing_and_a_hint_once_asked_follows_the_round_trip() -> None:
    """A 100 ms round trip (3% loss + 40 ms): no freeze to spare, only audio delay to add. Once
    asked, a shorter round trip lowers the value but does not withdraw it (each raise from 0
    pauses the picture once)."""
    hint = PlayoutHint()
    for t in range(5):
        hint.repaired(float(t))
    assert hint.current(5.0, 0.1) == 0
    assert hint.current(5.0, FREEZE_RTT) == 230  # 225 ms, rounded up
    assert hint.current(5.1, 0.1) == 150
    assert hint.current(5.0 + WINDOW, 0.2) == 0  # repairs over: withdrawn...
    hint.repaired(30.0)
    hint.repaired(30.5)
    assert hint.current(30.5, 0.1) == 0  # ...and asked again only for slow repairs


def test_once_asked_a_tiny_round_trip_keeps_one_step() -> None:
    """Asked is never 0: a round trip under 4 ms (loopback; FREEZE_RTT lowered as the packet
    path's test does) would round 1.5 x rtt to 0 ms, a withdrawal in all but name."""
    hint = PlayoutHint()
    hint.repaired(0.0)
    hint.repaired(0.5)
    assert hint.current(1.0, FREEZE_RTT) == 230
    assert hint.current(1.1, 0.0002) == STEP_MS


def test_the_hint_ends_a_window_after_the_last_repairs() -> None:
    hint = PlayoutHint()
    hint.repaired(0.0)
    hint.repaired(5.0)
    assert hint.current(WINDOW - 0.5, 0.2) > 0  # the first repair is still within the window
    assert hint.current(WINDOW + 0.5, 0.2) == 0  # only one left in it
    hint.repaired(WINDOW + 1)
    assert hint.current(WINDOW + 1, 0.2) > 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 100, allow_nan=False), max_size=40), st.floats(0, 200, allow_nan=False),
       st.floats(0, 5, allow_nan=False))
def test_property_the_hint_is_zero_or_a_step_within_the_cap(repairs: list[float], later: float, rtt: float) -> None:
    hint = PlayoutHint()
    for t in sorted(repairs):
        hint.repaired(t)
    now = max([later, *repairs])
    value = hint.current(now, rtt)
    recent = sum(1 for t in repairs if now - t <= WINDOW)
    assert (value > 0) == (recent >= REPAIRS and rtt >= FREEZE_RTT)
    assert value == 0 or STEP_MS <= value <= CAP_MS
    assert value % STEP_MS == 0
