"""The loss-based cap on a video publisher from a subscriber's receiver reports (loss_cap.py)."""

from __future__ import annotations

from media.engine.loss_cap import LIFT_ABOVE, MIN_BITRATE, LossCap

PERCENT = 256 / 100  # receiver reports give the fraction lost in 256ths


def reports(cap: LossCap, loss_percent: float, kbps: float, seconds: int, start: float = 0.0,
            octets: int = 0) -> tuple[int | None, int]:
    """One report a second at `loss_percent`, with `kbps` sent in between; the last cap and octets."""
    result = cap.bitrate
    for second in range(1, seconds + 1):
        octets += int(kbps * 1000 / 8)
        result = cap.update(int(loss_percent * PERCENT), octets, start + second)
    return result, octets


def test_a_clean_hop_sets_no_cap() -> None:
    cap = LossCap()
    assert reports(cap, 0, 1500, 10)[0] is None
    assert reports(LossCap(), 5, 1500, 10)[0] is None  # 2-10%: hold, and nothing to hold


def test_heavy_loss_cuts_to_the_rate_sent_times_one_minus_half_the_loss() -> None:
    cap = LossCap()
    assert cap.update(int(20 * PERCENT), 0, 0.0) is None  # the first report: no rate measured yet
    bitrate = cap.update(int(20 * PERCENT), 200_000, 1.0)  # 1.6 Mbit/s sent since
    assert bitrate is not None and 1_400_000 < bitrate < 1_450_000
    # Sustained, it keeps cutting (from the lower of the cap and the rate sent) down to a floor.
    assert reports(cap, 20, 1500, 30, start=1.0, octets=200_000)[0] == MIN_BITRATE


def test_moderate_loss_holds_and_a_clean_spell_lifts_the_cap_gradually() -> None:
    cap = LossCap()
    bitrate, octets = reports(cap, 15, 800, 3)
    assert bitrate is not None and bitrate < 800_000
    assert reports(cap, 5, 800, 5, start=3, octets=octets)[0] == bitrate  # 2-10%: hold
    raised, octets = reports(cap, 0, 800, 1, start=8, octets=octets)
    assert raised == int(bitrate * 1.08)
    lifted, _ = reports(cap, 0, 800, 60, start=9, octets=octets)
    assert lifted is None and raised < LIFT_ABOVE
