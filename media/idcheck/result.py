"""What an ID check hands back to the caller (and what may go to the audit log)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from .formats import MrzFormat
from .names import NameMatch, compare


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
    surname_truncated: bool = False  # the MRZ's name zone was full: the name may be cut
    given_names_truncated: bool = False
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
        return self.name_match(first_name, last_name) is not NameMatch.MISMATCH

    def name_match(self, first_name: str, last_name: str) -> NameMatch:
        """MATCH, TRUNCATED (agrees as far as the MRZ's cut name goes: "nom tronqué") or MISMATCH."""
        return compare(self.surname, self.given_names, first_name, last_name,
                       self.surname_truncated, self.given_names_truncated)

    def audit_line(self) -> str:
        """One line for the audit log: no name, no birth date, only the number's last 4 characters."""
        fmt = self.document_format.value if self.document_format else "-"
        return (f"idcheck outcome={self.outcome.value} format={fmt} number=...{self.number_last4 or '-'} "
                f"check_digits={'ok' if self.all_check_digits_valid else 'bad'} "
                f"reasons={','.join(self.reasons) or '-'} frames={self.frames_read}/{self.frames_seen}")


def names_match(mrz_surname: str, mrz_given: str, first_name: str, last_name: str,
                surname_truncated: bool = False, given_truncated: bool = False) -> bool:
    """Appointment names against MRZ names, ignoring accents, case, hyphens and apostrophes,
    accepting a name the MRZ cut (see names.compare)."""
    return compare(mrz_surname, mrz_given, first_name, last_name, surname_truncated,
                   given_truncated) is not NameMatch.MISMATCH
