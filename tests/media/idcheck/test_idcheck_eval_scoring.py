"""How the evaluation set scores a check (bench/idcheck_eval/scoring.py): the verdict the card
deserves, on a right read. A card that expired before the check's day deserves a refusal for
that reason alone, never a verification."""

from datetime import date

import pytest

from bench.idcheck_eval import TUNING, make_check
from bench.idcheck_eval.scoring import Scored, read_check
from media.idcheck import IdCheckResult, MrzFormat, Outcome

TODAY = date(2026, 11, 23)


def _scored(outcome: Outcome, reasons: tuple[str, ...], right: bool, card_expired: bool) -> Scored:
    return Scored(IdCheckResult(outcome, reasons, checked_on=TODAY), right, card_expired=card_expired)


@pytest.mark.parametrize(("outcome", "reasons", "right", "card_expired", "exact"), [
    (Outcome.VERIFIED, (), True, False, True),
    (Outcome.VERIFIED, (), False, False, False),
    (Outcome.VERIFIED, (), True, True, False),  # an expired card must not pass
    (Outcome.MISMATCH, ("expired",), True, True, True),
    (Outcome.MISMATCH, ("expired",), False, True, False),  # refused, but read wrong
    (Outcome.MISMATCH, ("expired", "name"), True, True, False),  # refused for a wrong reason too
    (Outcome.MISMATCH, ("expired",), True, False, False),  # a valid card called expired
    (Outcome.UNREADABLE, ("no_consistent_read",), False, True, False),
])
def test_exact_is_the_deserved_verdict_on_a_right_read(outcome, reasons, right, card_expired, exact) -> None:
    assert _scored(outcome, reasons, right, card_expired).exact is exact


def test_an_old_french_card_issued_to_a_minor_ten_years_ago_is_read_and_refused_as_expired() -> None:
    """Tuning check 473: issued in 2014 to a 17-year-old, valid 10 years (expired 2024-06-01)."""
    check = make_check(MrzFormat.FR_ID_1988, 473, TUNING)
    assert check.expiry_date < TODAY
    scored = read_check(check, TODAY)
    assert scored.card_expired and scored.right
    assert scored.result.outcome is Outcome.MISMATCH and scored.result.reasons == ("expired",)
    assert scored.exact and not scored.wrong
