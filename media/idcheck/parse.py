"""Field extraction and check-digit validation of normalised MRZ lines.

ICAO formats go through the `mrz` package's checkers; the old French card
through fr_id_1988.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mrz.base.functions import hash_string
from mrz.checker.td1 import TD1CodeChecker
from mrz.checker.td3 import TD3CodeChecker

from . import fr_id_1988
from .formats import MrzFormat


@dataclass(frozen=True)
class ParsedMrz:
    fmt: MrzFormat
    document_code: str  # "ID", "P", "IR", ...
    surname: str
    given_names: str
    birth_date: date | None
    document_number: str
    expiry_date: date | None
    expiry_estimated: bool  # True when the MRZ carries no expiry (old French card)
    check_digits_valid: bool
    fields_valid: bool  # dates exist, codes and names are well formed (check digits aside)
    surname_truncated: bool = False  # the name zone is full up to its last cell: the MRZ cut the name
    given_names_truncated: bool = False


def _truncation(fmt: MrzFormat, lines: tuple[str, ...], given_names: str) -> tuple[bool, bool]:
    """(surname cut, given names cut): a name zone with no filler left at its end was cut."""
    if fmt is MrzFormat.FR_ID_1988:
        return lines[0][29] != "<", lines[1][26] != "<"
    full = (lines[2][29] if fmt is MrzFormat.TD1 else lines[0][43]) != "<"
    # ICAO zones hold surname<<given names: with no given name left, the surname was cut.
    return (full and not given_names.strip()), (full and bool(given_names.strip()))


def _long_number(line1: str) -> str | None:
    """The number of a TD1 line 1 read as running on into the optional data (whatever its 15th
    cell holds), if the run-on's last character is the whole number's check digit; else None."""
    rest = line1[15:30].split("<", 1)[0]
    if len(rest) < 2:
        return None
    number = line1[5:14] + rest[:-1]
    return number if hash_string(number) == rest[-1] else None


def td1_number(line1: str) -> tuple[str, bool]:
    """(document number, its check digit holds) of a TD1 card's first line.

    ICAO 9303 part 5: a number longer than 9 characters keeps its first 9 in the number field,
    '<' where the check digit would be, and runs on into the optional data, followed by the
    check digit of the whole number (a Belgian card's 12 digits); the `mrz` package reads only
    the first 9. '<' and 0 are the same value to every check digit, so when the first 9 check
    to 0 a 0 read there could be a run-on's '<' and the reverse: if both readings hold, the read
    is refused (a number cut to 9 characters, or one lengthened by optional data, must never
    pass), whichever way the cell was read.
    """
    short, mark = line1[5:14], line1[14]
    short_check = hash_string(short)
    long = _long_number(line1) if mark in "0<" else None
    if long is not None and short_check == "0":
        return (long if mark == "<" else short), False
    if mark == "<":
        return (long, True) if long is not None else (short, False)
    return short, short_check == mark


def _date(yymmdd: str, past: bool, today: date) -> date | None:
    """YYMMDD with the century chosen so birth dates are in the past."""
    try:
        yy, mm, dd = int(yymmdd[0:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
        d = date(2000 + yy, mm, dd)
        # Birth dates lie in the past; expiry dates are taken as 2000-2069.
        if (past and d > today) or (not past and yy >= 70):
            d = d.replace(year=1900 + yy)
        return d
    except ValueError:
        return None


def parse(fmt: MrzFormat, lines: tuple[str, ...], today: date | None = None) -> ParsedMrz | None:
    """None if the lines cannot even be split into fields (unknown cells, bad geometry)."""
    today = today or date.today()
    if len(lines) != fmt.line_count or any(len(x) != fmt.line_length or "?" in x for x in lines):
        return None
    try:
        if fmt is MrzFormat.FR_ID_1988:
            card = fr_id_1988.parse(*lines)
            birth = _date(card.birth, True, today)
            return ParsedMrz(fmt, "ID", card.surname, card.given_names, birth, card.number,
                             card.expiry(birth), True, card.check_digits_ok,
                             card.fields_ok and birth is not None,
                             *_truncation(fmt, lines, card.given_names))
        code = "\n".join(lines)
        checker = TD1CodeChecker(code) if fmt is MrzFormat.TD1 else TD3CodeChecker(code)
        hashes = [checker.document_number_hash, checker.birth_date_hash, checker.expiry_date_hash,
                  checker.final_hash]
        if fmt is MrzFormat.TD3:
            hashes.append(checker.optional_data_hash)
        # Each property checks one field's format (not its check digit).
        well_formed = all([checker.document_type, checker.country, checker.nationality, checker.birth_date,
                           checker.expiry_date, checker.sex, checker.identifier, checker.document_number,
                           checker.optional_data, checker.optional_data_2 if fmt is MrzFormat.TD1 else True])
        fields = checker.fields()
        number = fields.document_number
        if fmt is MrzFormat.TD1:
            number, hashes[0] = td1_number(lines[0])
    except (ValueError, IndexError, TypeError):  # mrz raises ValueError subclasses on malformed input
        return None
    birth = _date(fields.birth_date, True, today)
    expiry = _date(fields.expiry_date, False, today)
    return ParsedMrz(fmt, fields.document_type, fields.surname, fields.name, birth, number,
                     expiry, False, all(hashes), well_formed and birth is not None and expiry is not None,
                     *_truncation(fmt, lines, fields.name))
