"""One evaluation check through the ID check's reader, scored alike by the benchmark, the
failure diagnosis and CI's sample. Apart from render.py: the scenes share nothing with the
reader; only this scoring calls it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from media.idcheck import FrameReader, IdCheckResult, MrzFormat, Outcome
from media.idcheck.normalise import normalise

from .render import EvalCheck


@dataclass(frozen=True)
class Scored:
    result: IdCheckResult
    right: bool  # what was read is the card's (number, dates, format)
    # The card itself expired before the check's day (an old French card issued to a minor is
    # valid 10 years: 4 of the held-out part's 300 were): refusing it is the right verdict.
    card_expired: bool = False

    @property
    def exact(self) -> bool:
        """The verdict the card deserves, on a right read: verified, or for a card that expired,
        a mismatch for that reason alone."""
        if self.card_expired:
            return self.result.outcome is Outcome.MISMATCH and self.result.reasons == ("expired",) and self.right
        return self.result.outcome is Outcome.VERIFIED and self.right

    @property
    def accepted(self) -> bool:
        """Shown as verified, or every check digit passed: what a wrong read must never be."""
        return self.result.outcome is Outcome.VERIFIED or self.result.all_check_digits_valid

    @property
    def wrong(self) -> bool:
        return self.accepted and not self.right


def read_check(check: EvalCheck, today: date) -> Scored:
    """Feed the check's frames as a call would, until the reader decides or they run out."""
    reader = FrameReader(check.first_name, check.last_name, today=today, max_frames=len(check.frames))
    for frame in check.frames:
        if reader.feed(frame) is not None:
            break
    result = reader.finish()
    right = (result.document_number == check.document_number and result.birth_date == check.birth_date
             and result.expiry_date == check.expiry_date and result.document_format is check.fmt)
    return Scored(result, right, card_expired=check.expiry_date < today)


def cells_right(check: EvalCheck, fmt: MrzFormat, lines: tuple[str, ...]) -> int:
    """Cells of one frame's read (the grid's lines in `fmt`, normalised here) equal to the card's
    MRZ; 0 when the frame was read as another format."""
    if fmt is not check.fmt:
        return 0
    return sum(a == b for read, true in zip(normalise(fmt, lines), check.mrz_lines, strict=True)
               for a, b in zip(read, true, strict=True))
