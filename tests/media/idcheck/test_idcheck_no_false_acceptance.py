"""A wrong document number must never come out verified.

Document numbers are alphanumeric: O/0, I/1, B/8, S/5 and Z/2 are all legal
there, and two letter/digit swaps can cancel out under the check digit
(O -> 0 changes a cell by 24; at weights 7 and 3 that is 168 + 72 = 240 = 0 mod 10).
"""

from dataclasses import replace
from datetime import date

import pytest
from mrz.base.functions import hash_string
from mrz.generator.td1 import TD1CodeGenerator
from mrz.generator.td3 import TD3CodeGenerator

from media.idcheck import FrameReader, MrzFormat, Outcome
from media.idcheck.normalise import alphanumeric_cells, normalise
from media.idcheck.parse import parse
from media.idcheck.reader import number_agreed, vote
from media.idcheck.synthetic import SyntheticCard, card_frames, make_card, random_conditions

TODAY = date(2026, 11, 23)
# Numbers made of the letters and digits OCR confuses, including the cancelling pair.
CONFUSABLE_NUMBERS = ["1OWRFSO0B", "O0I1B8S5Z", "Z2S5B8I1O", "OOOO0000I", "B8B8S5S5O", "IZ0SB1O2Q"]


def _td1(number: str) -> tuple[str, ...]:
    text = str(TD1CodeGenerator("ID", "FRA", number, "900101", "F", "310101", "FRA", "DUPONT", "MARIE"))
    return tuple(text.splitlines())


def _with_number(fmt: MrzFormat, seed: int, number: str) -> SyntheticCard:
    card = make_card(fmt, seed)
    if fmt is MrzFormat.TD1:
        text = str(TD1CodeGenerator("ID", "FRA", number, card.birth_date.strftime("%y%m%d"), "F",
                                    card.expiry_date.strftime("%y%m%d"), "FRA",
                                    card.mrz_surname.replace(" ", "<"), card.mrz_given_names.replace(" ", "<")))
    else:
        text = str(TD3CodeGenerator("P", "UTO", card.mrz_surname.replace(" ", "<"),
                                    card.mrz_given_names.replace(" ", "<"), number, "UTO",
                                    card.birth_date.strftime("%y%m%d"), "F", card.expiry_date.strftime("%y%m%d")))
    return replace(card, mrz_lines=tuple(text.splitlines()), document_number=number)


def test_the_cancelling_pair_really_cancels():
    # Why nothing may rewrite letters in a document number: this misread passes the check digit.
    assert hash_string("1OWRFSO0B") == hash_string("10WRFS00B")
    genuine = _td1("1OWRFSO0B")
    misread = (genuine[0].replace("1OWRFSO0B", "10WRFS00B"),) + genuine[1:]
    parsed = parse(MrzFormat.TD1, misread, TODAY)
    assert parsed is not None and parsed.check_digits_valid and parsed.document_number == "10WRFS00B"


@pytest.mark.parametrize("number", CONFUSABLE_NUMBERS)
def test_normalise_keeps_document_numbers_as_read(number):
    lines = _td1(number)
    fixed = normalise(MrzFormat.TD1, lines)
    assert fixed[0][5:14] == number
    parsed = parse(MrzFormat.TD1, fixed, TODAY)
    assert parsed is not None and parsed.check_digits_valid and parsed.document_number == number


def test_normalise_still_fixes_digit_only_cells():
    lines = _td1("1OWRFSO0B")
    assert lines[1][:15] == "9001011F3101012"
    # Dates and check digits can only hold digits: O, I, B, Z, S there are misreads.
    misread = (lines[0], "9OO1OIIFBIOIOIZ" + lines[1][15:], lines[2])
    fixed = normalise(MrzFormat.TD1, misread)
    assert fixed[1][:15] == "9001011F8101012"  # B -> 8 is a digit misread the check digit then catches
    assert fixed[0][5:14] == "1OWRFSO0B"


@pytest.mark.parametrize("number", ["1OWRFSO0B", "O0I1B8S5Z"])
def test_a_number_assembled_from_frames_that_disagree_is_not_accepted(number):
    genuine = _td1(number)
    fmt = MrzFormat.TD1

    def misread(i: int, ch: str) -> tuple[str, ...]:
        line = genuine[0]
        return (line[:5 + i] + ch + line[6 + i:],) + genuine[1:]

    # Frame 1 misread the first O, frame 2 the second, frame 3 both: per character, the
    # majority spells 10WRFS00B, a number that validates, that only one frame read.
    if number == "1OWRFSO0B":
        r1, r2 = misread(1, "0"), misread(6, "0")
        r3 = misread(6, "0")
        r3 = (r3[0][:6] + "0" + r3[0][7:],) + r3[1:]
    else:  # O0I1B8S5Z: O->0 (weight 7 at index 0) and I->1 (index 2, weight 1; 18 - 1 = 17)
        r1, r2 = misread(0, "0"), misread(2, "1")
        r3 = (misread(0, "0")[0][:7] + "1" + genuine[0][8:],) + genuine[1:]
    reads = [normalise(fmt, r) for r in (r1, r2, r3)]
    voted = vote(fmt, reads)
    assert voted is not None and alphanumeric_cells(fmt, voted) != alphanumeric_cells(fmt, genuine)
    assert not number_agreed(fmt, reads, voted)
    # A fourth frame reading the wrong number again still leaves it in the minority.
    reads.append(reads[2])
    assert not number_agreed(fmt, reads, vote(fmt, reads) or voted)
    # The genuine number read as such by two frames and no other way is accepted; against a
    # dissenting complete reading it takes three.
    assert number_agreed(fmt, [normalise(fmt, genuine)] * 2, genuine)
    assert not number_agreed(fmt, [normalise(fmt, genuine)] * 2 + [reads[0]], genuine)
    assert number_agreed(fmt, [normalise(fmt, genuine)] * 3 + [reads[0]], genuine)


def test_a_cancelling_pair_misread_alike_twice_is_not_accepted_against_one_true_read():
    """Seen on the evaluation set: H4YF9H91U read M4YF9M91U by two frames (H->M at two
    weight-7 cells: +70, the check digit still holds), H4YF9H91U by one."""
    fmt = MrzFormat.TD1
    genuine, wrong = _td1("H4YF9H91U"), _td1("H4YF9H91U")
    wrong = (wrong[0][:5] + "M4YF9M91U" + wrong[0][14:],) + wrong[1:]
    assert wrong[0][14] == genuine[0][14]  # the same check digit validates both
    reads = [normalise(fmt, r) for r in (wrong, wrong, genuine)]
    voted = vote(fmt, reads)
    assert voted is not None and voted[0][5:14] == "M4YF9M91U"
    assert not number_agreed(fmt, reads, voted)


@pytest.mark.parametrize(("fmt", "number"), [(MrzFormat.TD1, n) for n in CONFUSABLE_NUMBERS]
                         + [(MrzFormat.TD3, "O0I1B8S5Z"), (MrzFormat.TD3, "1OWRFSO0B")])
def test_cards_with_confusable_numbers_are_never_verified_with_another_number(fmt, number):
    for seed in range(3):
        card = _with_number(fmt, seed, number)
        reader = FrameReader(card.given_names, card.surname, today=TODAY, max_frames=6)
        for frame in card_frames(card, seed, 6, **random_conditions(seed)):
            if reader.feed(frame) is not None:
                break
        result = reader.finish()
        if result.all_check_digits_valid or result.outcome is Outcome.VERIFIED:
            assert result.document_number == number, f"seed {seed}: {number} accepted as {result.document_number}"


def test_a_letter_left_where_only_a_digit_can_be_is_unsure_not_kept():
    # A French passport number is 2 digits, 2 letters, 5 digits. Tesseract once read "44" as
    # "AA" twice: 4 -> A adds 6 at weights 7 and 3, 42 + 18 = 60, and the check digit passed.
    line2 = str(TD3CodeGenerator("P", "FRA", "DUPONT", "INES", "44KD87798", "FRA", "530416", "M",
                                 "350614")).splitlines()[1]
    line1 = "P<FRADUPONT<<INES" + "<" * 27
    misread = "XWKD87798" + line2[9:]
    fixed = normalise(MrzFormat.TD3, (line1, misread))
    assert fixed[1][:2] == "??"
    assert parse(MrzFormat.TD3, fixed, TODAY) is None
    assert normalise(MrzFormat.TD3, (line1, "AAKD87798" + line2[9:]))[1][:9] == "44KD87798"
