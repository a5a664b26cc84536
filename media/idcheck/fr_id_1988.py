"""French national ID card issued 1988-2021: 2 lines of 36 characters.

The `mrz` package only knows ICAO layouts, so this one is built and checked here.
Layout (1-based positions):

    Line 1  1-2    "ID"
            3-5    "FRA"
            6-30   surname, padded with '<' (truncated at 25)
            31-36  issuing office: department (3) + office code (3)
    Line 2  1-12   card number: issue year YY (2), month MM (2),
                   department (3), sequence (5)
            13     check digit of 1-12
            14-27  given names, separated by "<<", padded (truncated at 14)
            28-33  date of birth YYMMDD
            34     check digit of 28-33
            35     sex (M/F)
            36     check digit of line 1 (36 chars) + line 2 positions 1-35

Check digits are the ICAO 7-3-1 weighted sum modulo 10 ('<' = 0, A = 10 ...).
The MRZ carries no expiry date: it is derived from the issue month (first day)
in the card number: 15 years for cards issued from 2004 to holders who were
adults at issue (2014 extension), otherwise 10 years. It is therefore estimated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from mrz.base.functions import hash_string

LINE_LENGTH = 36
# The card number's department segment: three digits (a department and an office digit, or an
# overseas department), or Corsica's 2A/2B, written 2A plus an office digit before 2017 and 02A
# since (the reader's layout allows those letters there: normalise.department_letter_after).
_NUMBER = re.compile(r"\d{4}(?:\d{3}|2[AB]\d|02[AB])\d{5}")


def check_digit(text: str) -> str:
    return str(hash_string(text))


def build(surname: str, given_names: str, number: str, office: str, birth: str, sex: str) -> tuple[str, str]:
    """MRZ lines from MRZ-ready fields (A-Z0-9 and '<'; given names joined by "<<")."""
    if len(number) != 12 or len(office) != 6 or len(birth) != 6:
        raise ValueError("card number is 12 chars, office 6, birth date 6")
    line1 = "IDFRA" + surname[:25].ljust(25, "<") + office
    body = number + check_digit(number) + given_names[:14].ljust(14, "<") + birth + check_digit(birth) + sex
    return line1, body + check_digit(line1 + body)


@dataclass(frozen=True)
class FrId1988:
    surname: str
    given_names: str
    number: str
    office: str
    birth: str  # YYMMDD
    sex: str
    number_ok: bool
    birth_ok: bool
    global_ok: bool
    fields_ok: bool

    @property
    def check_digits_ok(self) -> bool:
        return self.number_ok and self.birth_ok and self.global_ok

    def issue_month(self) -> date | None:
        try:
            year, month = int(self.number[0:2]), int(self.number[2:4])
            return date(1900 + year if year >= 88 else 2000 + year, month, 1)
        except ValueError:
            return None

    def expiry(self, birth: date | None) -> date | None:
        issued = self.issue_month()
        if issued is None:
            return None
        adult = birth is not None and (issued.year - birth.year, issued.month) >= (18, birth.month)
        years = 15 if issued.year >= 2004 and adult else 10
        return issued.replace(year=issued.year + years)


def parse(line1: str, line2: str) -> FrId1988:
    """Split and check a 2x36 MRZ; raises ValueError when the geometry is wrong."""
    if len(line1) != LINE_LENGTH or len(line2) != LINE_LENGTH:
        raise ValueError("old French ID lines are 36 characters")
    number, birth = line2[0:12], line2[27:33]
    names = line2[13:27].rstrip("<")
    fields_ok = (
        line1.startswith("IDFRA")
        and _NUMBER.fullmatch(number) is not None
        and birth.isdigit()
        and line2[34] in "MF"
        and line1[30:36].replace("<", "0").isalnum()
        and line1[5:30].strip("<").replace("<", "").isalpha()
    )
    return FrId1988(
        surname=line1[5:30].rstrip("<").replace("<", " "),
        given_names=" ".join(n.replace("<", " ") for n in names.split("<<") if n),
        number=number,
        office=line1[30:36],
        birth=birth,
        sex=line2[34],
        number_ok=check_digit(number) == line2[12],
        birth_ok=check_digit(birth) == line2[33],
        global_ok=check_digit(line1 + line2[:35]) == line2[35],
        fields_ok=fields_ok,
    )
