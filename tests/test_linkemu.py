"""The link emulator's shaper (tests/linkemu.py), packet by packet, without devices; the
TUN bridge itself is exercised by tests/e2e/test_weak_network.py and the bench."""

from __future__ import annotations

import os

import pytest

from tests.linkemu import LinkEmulator, Profile, Shape


@pytest.fixture
def emulator():
    ends = os.pipe()  # stand-ins for the two TUN descriptors: _admit never touches them
    yield LinkEmulator(ends[0], ends[1], Profile(), seed=1)
    for fd in ends:
        os.close(fd)


def test_delay_and_jitter_keep_order(emulator: LinkEmulator) -> None:
    emulator.set_profile(Profile.both(delay_ms=40, jitter_ms=10))
    times = [emulator._admit("up", 200, now=i * 0.001) for i in range(500)]  # 1 packet/ms
    assert all(t is not None for t in times)
    assert times == sorted(times)  # never reordered
    delays = [t - i * 0.001 for i, t in enumerate(times)]
    assert min(delays) >= 0.030 and max(delays) <= 0.050 + 0.010  # 40 ± 10 ms, plus waiting behind a later one


def test_loss_is_random_at_the_given_rate_and_per_direction(emulator: LinkEmulator) -> None:
    emulator.set_profile(Profile(up=Shape(loss=0.1)))
    for i in range(10_000):
        emulator._admit("up", 100, now=i)
        emulator._admit("down", 100, now=i)
    up, down = emulator.counters["up"], emulator.counters["down"]
    assert 900 < up.lost < 1100 and up.passed == 10_000 - up.lost
    assert down.lost == 0


def test_rate_limit_paces_and_drops_beyond_a_300_ms_queue(emulator: LinkEmulator) -> None:
    emulator.set_profile(Profile(down=Shape(rate_kbps=400)))
    # 1000-byte packets at once: 20 ms each at 400 kbit/s; the queue holds 300 ms.
    times = [emulator._admit("down", 1000, now=0.0) for _ in range(30)]
    sent = [t for t in times if t is not None]
    assert sent[:3] == pytest.approx([0.02, 0.04, 0.06])
    assert len(sent) == 16 and emulator.counters["down"].queue_full == 14  # 0..300 ms of waiting
    assert emulator._admit("down", 1000, now=1.0) == pytest.approx(1.02)  # drained: no wait


def test_an_outage_drops_everything_both_ways_until_it_ends(emulator: LinkEmulator) -> None:
    emulator.set_profile(Profile().with_outage(True))
    assert emulator._admit("up", 100, now=0) is None and emulator._admit("down", 100, now=0) is None
    emulator.set_profile(emulator.profile.with_outage(False))
    assert emulator._admit("up", 100, now=1) == 1
    assert emulator.counters["up"].outage == 1 and emulator.counters["down"].outage == 1
