"""What an ID check hands back to the caller (and what may go to the audit log)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from .formats import MrzFormat
from .names import name_tokens, spellings


class Outcome(StrEnum):
    VERIFIED = "verified"  # MRZ read, check digits valid, matches the appointment, not expired
    MISMATCH = "mismatch"  # MRZ read consistently but invalid, expired, or another person's
    UNREADABLE = "unreadable"  # no consistent MRZ within the frame/time budget
    REFUSED = "refused"  # reserved for the caller: the citizen declined the check


@dataclass(frozen=True)
class IdCheckResult:
    outcome: Outcome
    reasons: tuple[str, ...] = ()  # why not verified: "check_digits", "fields", "expired", "name", ...
    document_format: MrzFormat | None = None
    document_type: str = ""  # MRZ document code: "ID", "P", "IR" ...
    surname: str = ""
    given_names: str = ""
    birth_date: date | None = None
    document_number: str = field(default="", repr=False)  # personal data: keep out of logs
    expiry_date: date | None = None
    expiry_estimated: bool = False
    all_check_digits_valid: bool = False
    checked_on: date | None = None  # reference date for `expired`
    frames_seen: int = 0
    frames_read: int = 0

    @property
    def expired(self) -> bool:
        return self.is_expired(self.checked_on or date.today())

    def is_expired(self, on: date) -> bool:
        return self.expiry_date is not None and self.expiry_date < on

    @property
    def number_last4(self) -> str:
        return self.document_number.replace("<", "")[-4:]

    def name_matches(self, first_name: str, last_name: str) -> bool:
        return names_match(self.surname, self.given_names, first_name, last_name)

    def audit_line(self) -> str:
        """One line for the audit log: no name, no birth date, only the number's last 4 characters."""
        fmt = self.document_format.value if self.document_format else "-"
        return (f"idcheck outcome={self.outcome.value} format={fmt} number=...{self.number_last4 or '-'} "
                f"check_digits={'ok' if self.all_check_digits_valid else 'bad'} "
                f"reasons={','.join(self.reasons) or '-'} frames={self.frames_read}/{self.frames_seen}")


def _contains(seq: tuple[str, ...], sub: tuple[str, ...]) -> bool:
    return any(seq[i:i + len(sub)] == sub for i in range(len(seq) - len(sub) + 1))


def _truncated_match(mrz: tuple[str, ...], human: tuple[str, ...], min_len: int) -> bool:
    """MRZs cut long names at the field end: accept a long MRZ name that starts the human one."""
    m, h = "".join(mrz), "".join(human)
    return len(m) >= min_len and h.startswith(m)


def names_match(mrz_surname: str, mrz_given: str, first_name: str, last_name: str) -> bool:
    """Appointment names against MRZ names, ignoring accents, case, hyphens and apostrophes.

    The surname must be the MRZ surname (or start with it when the MRZ truncated
    it); the appointment's first name must appear among the MRZ given names.
    """
    mrz_last, mrz_first = name_tokens(mrz_surname), name_tokens(mrz_given)
    if not mrz_last or not mrz_first:
        return False
    last_ok = any(t and (t == mrz_last or _truncated_match(mrz_last, t, 12)) for t in spellings(last_name))
    first_ok = any(t and (_contains(mrz_first, t) or _truncated_match(mrz_first, t, 10))
                   for t in spellings(first_name))
    return last_ok and first_ok
