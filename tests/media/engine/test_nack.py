"""When the engine NACKs a publisher's missing video packets again, and gives a hole up (nack.py),
on a fake clock (seconds)."""

from __future__ import annotations

import pytest

from media.engine.nack import (
    GIVE_UP,
    INITIAL_RTT,
    MIN_RETRY,
    RETRY_FACTOR,
    SENDER_HISTORY,
    SENDER_HISTORY_RTTS,
    NackTracker,
)


def test_a_new_hole_is_nacked_at_once_then_once_per_round_trip() -> None:
    tracker = NackTracker()
    tracker.add([10, 11], 0.0)
    assert tracker.due(0.0) == ([10, 11], [])
    assert tracker.due(0.05) == ([], [])  # asked 50 ms ago: the retransmission may be on its way
    retry = RETRY_FACTOR * INITIAL_RTT
    assert tracker.next_due() == pytest.approx(retry)
    assert tracker.due(retry) == ([10, 11], [])


def test_new_losses_do_not_count_as_retries_of_older_holes() -> None:
    """At 10% loss a new hole shows every few packets: each must not re-ask (and use up) the others."""
    tracker = NackTracker()
    tracker.add([1], 0.0)
    asked_at = [0.0] if 1 in tracker.due(0.0)[0] else []
    for step in range(1, 30):  # a new loss every 10 ms for 290 ms
        now = step * 0.01
        tracker.add([1 + step * 10], now)
        nacked, given_up = tracker.due(now)
        assert given_up == [] and 1 + step * 10 in nacked
        if 1 in nacked:
            asked_at.append(now)
    retry = RETRY_FACTOR * INITIAL_RTT
    assert asked_at == pytest.approx([0.0, 0.13, 0.26])  # the first 10 ms steps past 0.125 s and 0.25 s
    assert retry == pytest.approx(0.125)
    assert 1 in tracker


def test_the_round_trip_is_measured_from_nack_to_retransmission_and_paces_retries() -> None:
    tracker = NackTracker()
    for i in range(20):  # retransmissions come back 170 ms after the first request
        now = i * 1.0
        tracker.add([i], now)
        tracker.due(now)
        tracker.repaired(i, now + 0.17)
    assert tracker.rtt == pytest.approx(0.17, abs=0.01)
    assert tracker.retry_interval == pytest.approx(RETRY_FACTOR * 0.17, abs=0.02)
    # A retransmission answering a second request says nothing sure of the round trip (Karn).
    tracker.add([100], 30.0)
    tracker.due(30.0)
    tracker.due(30.5)
    tracker.repaired(100, 30.68)  # 180 ms after either: which one it answers is unknown
    assert tracker.rtt == pytest.approx(0.17, abs=0.01)


def test_a_hole_is_given_up_after_a_second_or_four_round_trips_not_before() -> None:
    tracker = NackTracker()
    tracker.add([5], 0.0)
    now, tries = 0.0, 0
    while 5 in tracker:
        nacked, given_up = tracker.due(now)
        tries += nacked.count(5)
        if given_up:
            assert given_up == [5] and now >= GIVE_UP
            break
        now = tracker.next_due() or now
    assert now == pytest.approx(GIVE_UP)
    # With a 100 ms round trip and its margin, 8 requests in that second: with 10% loss each
    # way, a hole survives all of them once in ~10^6.
    assert tries == 8
    slow = NackTracker()
    slow.rtt = 0.5
    assert slow.give_up_after == pytest.approx(2.0)
    assert slow.retry_interval == pytest.approx(0.625)


def test_repaired_late_or_forgotten_holes_are_not_asked_again() -> None:
    tracker = NackTracker()
    tracker.add([1, 2, 3], 0.0)
    tracker.due(0.0)
    tracker.repaired(1, 0.1)
    tracker.arrived(2, 0.12)  # the original, late
    tracker.retain({4})  # 3 is too old for the receive statistics
    assert len(tracker) == 0 and tracker.next_due() is None
    assert tracker.due(1.0) == ([], [])


def test_retries_never_come_faster_than_the_floor() -> None:
    tracker = NackTracker()
    tracker.rtt = 0.001
    assert tracker.retry_interval == MIN_RETRY


def test_the_counters_say_what_nack_did() -> None:
    tracker = NackTracker()
    tracker.add([1, 2], 0.0)
    tracker.due(0.0)
    tracker.repaired(1, 0.15)
    tracker.due(0.2)  # 2 asked again
    tracker.due(GIVE_UP)
    assert (tracker.requests, tracker.repairs, tracker.given_up) == (3, 1, 1)


def test_a_round_trip_longer_than_the_first_guess_is_learnt_despite_retries() -> None:
    """160 ms + pacing: every retransmission comes back after the retry at 125 ms went out, just
    after it (too soon to answer it). The estimate must grow, not stay at its first guess."""
    tracker = NackTracker()
    for i in range(40):
        now = i * 1.0
        tracker.add([i], now)
        tracker.due(now)
        tracker.due(tracker.next_due() or now)  # the retry, 125 ms (then more) after
        tracker.repaired(i, now + 0.18)
    assert tracker.rtt == pytest.approx(0.18, abs=0.02)
    assert tracker.retry_interval > 0.2


def test_how_long_holes_held_the_video_is_counted_by_50_ms() -> None:
    """Noticed -> filled, by a retransmission or by FEC (`arrived` with a time): what a
    subscriber's buffer must cover, logged when the publication ends."""
    tracker = NackTracker()
    tracker.add([1, 2, 3, 4], 0.0)
    tracker.due(0.0)
    tracker.arrived(1, 0.01)  # FEC rebuilt it at once
    tracker.repaired(2, 0.17)  # one round trip
    tracker.repaired(3, 0.38)  # asked twice
    tracker.arrived(4, 0.31)  # the original, late
    tracker.arrived(99, 0.5)  # not a hole
    assert dict(tracker.waits) == {0: 1, 3: 1, 6: 1, 7: 1}


def test_a_gap_longer_than_the_publishers_history_is_beyond_repair() -> None:
    """libwebrtc surely keeps a sent packet max(1 s, 3 round trips): a run of losses spanning
    more media time than that began with packets a NACK may no longer bring back."""
    tracker = NackTracker()
    assert not tracker.beyond_repair(0.05)  # a lost packet or two
    assert not tracker.beyond_repair(SENDER_HISTORY - 0.01)
    assert tracker.beyond_repair(SENDER_HISTORY + 0.01)  # an outage
    tracker.add([7], 0.0)
    tracker.due(0.0)
    tracker.repaired(7, 0.6)  # a 600 ms round trip (a 300 ms queue each way): the publisher keeps 1.8 s
    assert tracker.rtt == pytest.approx(0.6)
    assert not tracker.beyond_repair(SENDER_HISTORY_RTTS * 0.6 - 0.01)
    assert tracker.beyond_repair(SENDER_HISTORY_RTTS * 0.6 + 0.01)
