"""A subscriber's retransmission allowance (media/engine/rtx_budget.py), on plain numbers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from media.engine.rtx_budget import CAP, COPY_KEEP, SHARE, RetransmitBudget


def test_random_loss_is_repaired_in_full() -> None:
    """10% loss, each repair twice: a fifth of the media, well within the share."""
    budget = RetransmitBudget()
    sent = 0
    for _ in range(1000):
        sent += 10 * 1200
        assert budget.spend(1200, sent) and budget.spend(1200, sent)
    assert budget.denied == 0


def test_a_flood_of_nacks_gets_half_the_media_after_the_bank() -> None:
    budget = RetransmitBudget()
    granted = sum(budget.spend(1000, 0) for _ in range(100))
    assert granted == CAP // 1000  # the bank, then nothing until more media goes out
    assert budget.denied == 100 - granted
    assert not budget.spend(1000, 1000)  # 500 bytes earned: not enough
    assert budget.spend(1000, 2000)


def test_a_copy_never_takes_the_second_half_of_the_bank() -> None:
    budget = RetransmitBudget()
    copies = 0
    while budget.spend(1000, 0, COPY_KEEP):
        copies += 1
    assert copies == (CAP - COPY_KEEP) // 1000
    assert (budget.denied, budget.denied_copies) == (0, 1)
    assert budget.spend(1000, 0)  # a first retransmission still goes


def test_the_level_is_the_bank_after_what_was_earned() -> None:
    budget = RetransmitBudget()
    assert budget.level(0) == CAP
    assert budget.spend(CAP, 0) and budget.level(0) == 0
    assert budget.level(4000) == SHARE * 4000
    assert budget.level(4000) == SHARE * 4000  # earned once
    assert budget.level(10**9) == CAP


def test_a_counter_reset_earns_nothing() -> None:
    budget = RetransmitBudget()
    while budget.spend(1000, 10_000):
        pass
    assert not budget.spend(1000, 0)
    assert budget.spend(1000, 2000)  # earned from the new count


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50_000), st.integers(1, 1500)), max_size=200))
def test_property_retransmitted_bytes_stay_within_the_share_and_the_bank(steps: list[tuple[int, int]]) -> None:
    budget = RetransmitBudget()
    sent = spent = 0
    for more, size in steps:
        sent += more
        if budget.spend(size, sent):
            spent += size
        assert spent <= SHARE * sent + CAP
