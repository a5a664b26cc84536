"""When a repair message goes twice (media/engine/repeat.py), on plain numbers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from media.engine.repeat import LOSSY, LOSSY_FOR, MAX_REPEATED, LossyHop


def test_a_clean_hop_repairs_once() -> None:
    hop = LossyHop()
    assert not hop.repeats(1, 0.0)
    hop.reported(LOSSY - 1, 1.0)
    assert not hop.repeats(1, 1.0)


def test_a_lossy_report_counts_for_a_while_through_reports_that_look_clean() -> None:
    """Chromium's fraction lost counts what its NACKs repaired: 10% loss reads 0 in some reports."""
    hop = LossyHop()
    hop.reported(LOSSY, 10.0)
    hop.reported(0, 11.0)
    assert hop.repeats(1, 11.0)
    assert hop.repeats(MAX_REPEATED, 10.0 + LOSSY_FOR)
    assert not hop.repeats(1, 10.0 + LOSSY_FOR + 0.01)


def test_a_burst_is_repaired_once() -> None:
    """More than MAX_REPEATED numbers in one NACK: a queue overflowing or an outage."""
    hop = LossyHop()
    hop.reported(60, 0.0)
    assert hop.repeats(MAX_REPEATED, 0.5)
    assert not hop.repeats(MAX_REPEATED + 1, 0.5)
    assert not hop.repeats(0, 0.5)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100, allow_nan=False), st.integers(0, 255)), max_size=30),
       st.floats(0, 120, allow_nan=False), st.integers(0, 70))
def test_property_twice_only_within_the_window_of_a_lossy_report(reports: list[tuple[float, int]], now: float,
                                                                 numbers: int) -> None:
    hop = LossyHop()
    for at, fraction in sorted(reports):
        hop.reported(fraction, at)
    lossy = max((at for at, fraction in reports if fraction >= LOSSY), default=None)
    expected = 0 < numbers <= MAX_REPEATED and lossy is not None and now - lossy <= LOSSY_FOR
    assert hop.repeats(numbers, now) == expected
