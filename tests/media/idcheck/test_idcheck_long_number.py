"""TD1 document numbers longer than 9 characters (ICAO 9303 part 5: the first 9 in the number
field, '<' for its check digit, the rest and the whole number's check digit in the optional
data), as on Belgian identity cards; and '<' and 0, equal to every check digit, never let a
number be cut or lengthened."""

from dataclasses import replace
from datetime import date

from hypothesis import given
from hypothesis import strategies as st
from mrz.base.functions import hash_string

from media.idcheck import FrameReader, MrzFormat, Outcome
from media.idcheck.parse import parse
from media.idcheck.synthetic import card_frames, make_card

TODAY = date(2026, 11, 23)
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _td1(number: str, optional: str = "", surname: str = "PEETERS", given: str = "AN",
         birth: str = "900101", expiry: str = "310101") -> tuple[str, str, str]:
    """A TD1 MRZ, its number run on into the optional data when longer than 9 characters."""
    if len(number) > 9:
        line1 = "IDBEL" + number[:9] + "<" + number[9:] + hash_string(number) + optional
    else:
        line1 = "IDBEL" + number + hash_string(number) + optional
    line1 = line1.ljust(30, "<")
    body = birth + hash_string(birth) + "F" + expiry + hash_string(expiry) + "BEL" + "<" * 11
    line2 = body + hash_string(line1[5:30] + body[0:7] + body[8:15] + body[18:29])
    return line1, line2, (surname + "<<" + given).ljust(30, "<")


def test_the_belgian_specimen_reads_its_twelve_digits():
    lines = _td1("000001115702")
    assert lines[0] == "IDBEL000001115<7027<<<<<<<<<<<"  # the published specimen's first line
    parsed = parse(MrzFormat.TD1, lines, TODAY)
    assert parsed is not None and parsed.check_digits_valid and parsed.fields_valid
    assert parsed.document_number == "000001115702"


def test_a_nine_character_number_is_read_as_before():
    parsed = parse(MrzFormat.TD1, _td1("X4RTBPFW4", "K7X2"), TODAY)
    assert parsed is not None and parsed.check_digits_valid and parsed.document_number == "X4RTBPFW4"


@given(st.text(alphabet=ALNUM, min_size=9, max_size=12), st.text(alphabet=ALNUM, max_size=3))
def test_a_filler_read_as_zero_or_the_reverse_never_passes_with_another_number(number, optional):
    # '<' and 0 both count 0 in every check digit, the composite one included: one such misread
    # where the number's check digit stands could cut a long number to 9 characters or lengthen a
    # short one by its optional data. Either reading holds the card's number, or the read fails.
    genuine = _td1(number, optional if len(number) == 9 else "")
    true = parse(MrzFormat.TD1, genuine, TODAY)
    assert true is not None
    ambiguous = hash_string(number[:9]) == "0"
    assert true.check_digits_valid or ambiguous
    if true.check_digits_valid:
        assert true.document_number == number
    for mark in "0<":
        misread = (genuine[0][:14] + mark + genuine[0][15:],) + genuine[1:]
        parsed = parse(MrzFormat.TD1, misread, TODAY)
        assert parsed is not None
        if parsed.check_digits_valid:
            assert parsed.document_number == number, (misread[0], parsed.document_number)


def test_a_belgian_card_is_verified_from_webcam_frames():
    card = make_card(MrzFormat.TD1, 2)
    number = "000001115702"
    lines = _td1(number, surname=card.mrz_surname.replace(" ", "<"), given=card.mrz_given_names.replace(" ", "<"),
                 birth=card.birth_date.strftime("%y%m%d"), expiry=card.expiry_date.strftime("%y%m%d"))
    card = replace(card, mrz_lines=lines, document_number=number)
    reader = FrameReader(card.given_names, card.surname, today=TODAY, max_frames=8)
    for frame in card_frames(card, 2, 8, rotation=2.0, blur=0.5, lighting=0.2, noise=2.0, scale=1.0):
        if reader.feed(frame) is not None:
            break
    result = reader.finish()
    assert result.outcome is Outcome.VERIFIED, (result.outcome, result.reasons)
    assert result.document_number == number and result.birth_date == card.birth_date
