"""Optional data that can never hold the document number (a passport's personal number, a TD1
card's second line) is read as is and need not be agreed on whole by the frames; a TD1 card's
first-line optional data, where a long number runs on, still must."""

from datetime import date

from hypothesis import given
from hypothesis import strategies as st
from mrz.generator.td1 import TD1CodeGenerator
from mrz.generator.td3 import TD3CodeGenerator

from media.idcheck import MrzFormat
from media.idcheck.grid import MRZ_ALPHABET, SILENT
from media.idcheck.normalise import layout_for, normalise
from media.idcheck.parse import parse
from media.idcheck.reader import number_agreed, vote

TODAY = date(2026, 11, 23)


def _td3(optional: str = "") -> tuple[str, ...]:
    text = str(TD3CodeGenerator("P", "FRA", "DUPONT", "MARIE", "12AB34567", "FRA", "900101", "F", "310101", optional))
    return tuple(text.splitlines())


def _td1(optional1: str = "", optional2: str = "") -> tuple[str, ...]:
    text = str(TD1CodeGenerator("ID", "FRA", "X4RTBPFW4", "900101", "F", "310101", "FRA", "DUPONT", "MARIE",
                                optional1, optional2))
    return tuple(text.splitlines())


def _set(lines: tuple[str, ...], li: int, j: int, ch: str) -> tuple[str, ...]:
    out = list(lines)
    out[li] = out[li][:j] + ch + out[li][j + 1:]
    return tuple(out)


def test_the_optional_data_of_a_passport_and_of_a_td1_second_line_are_kind_p():
    assert layout_for(MrzFormat.TD3, _td3())[1][28:42] == "P" * 14
    assert layout_for(MrzFormat.TD1, _td1())[1][18:29] == "P" * 11
    assert layout_for(MrzFormat.TD1, _td1())[0][15:30] == "X" * 15  # a long number runs on there


def test_frames_that_differ_only_in_a_passports_personal_number_agree_on_the_number():
    fmt, genuine = MrzFormat.TD3, _td3("K7X2")
    # A blurred K read '<' (a silent pair: the check digits cannot tell) by one frame.
    reads = [normalise(fmt, genuine), normalise(fmt, genuine), normalise(fmt, _set(genuine, 1, 28, "<"))]
    voted = vote(fmt, reads)
    assert voted == genuine
    assert number_agreed(fmt, reads, voted)
    parsed = parse(fmt, voted, TODAY)
    assert parsed is not None and parsed.check_digits_valid and parsed.document_number == "12AB34567"


def test_a_td1_first_line_optional_data_still_has_to_be_agreed_on():
    fmt = MrzFormat.TD1
    genuine = _td1("K7X2")
    other = _set(genuine, 0, 15, "<")
    reads = [normalise(fmt, r) for r in (genuine, genuine, other)]
    voted = vote(fmt, reads)
    assert voted == genuine
    assert not number_agreed(fmt, reads, voted)  # the third frame read another "number"
    # On the second line the same disagreement is a misread of data the result never reports.
    genuine = _td1("", "K7X2")
    reads = [normalise(fmt, r) for r in (genuine, genuine, _set(genuine, 1, 18, "<"))]
    assert number_agreed(fmt, reads, vote(fmt, reads) or genuine)


@given(st.text(alphabet=MRZ_ALPHABET, min_size=14, max_size=14), st.integers(28, 41),
       st.sampled_from(MRZ_ALPHABET))
def test_no_misread_of_a_passports_personal_number_changes_what_the_check_reports(optional, at, ch):
    # Why its cells need no margin and no agreement: whatever is read there, either a check
    # digit fails (the read is refused) or the reported number, dates and names are the card's.
    fmt = MrzFormat.TD3
    genuine = _td3(optional.rstrip("<"))
    true = parse(fmt, genuine, TODAY)
    assert true is not None and true.check_digits_valid
    misread = parse(fmt, _set(genuine, 1, at, ch), TODAY)
    assert misread is not None
    if misread.check_digits_valid:
        assert (misread.document_number, misread.birth_date, misread.expiry_date, misread.surname,
                misread.given_names) == (true.document_number, true.birth_date, true.expiry_date, true.surname,
                                         true.given_names)
    was = MRZ_ALPHABET.index(genuine[1][at])
    if ch != genuine[1][at] and not SILENT[was, MRZ_ALPHABET.index(ch)]:
        assert not misread.check_digits_valid  # the personal number's own check digit refuses it
