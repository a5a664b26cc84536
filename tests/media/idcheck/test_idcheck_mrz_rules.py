"""Check digits, layouts and parsing, on text only (no image, no OCR)."""

from datetime import date

import pytest

from media.idcheck import fr_id_1988
from media.idcheck.formats import MrzFormat
from media.idcheck.normalise import normalise
from media.idcheck.parse import parse
from media.idcheck.synthetic import flip_digit, make_card

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize("line2", ["8806923102858CORINNE<<<<<<<6512068F6", "9409923102854CORINNE<<<<<<<6512068F4"])
def test_old_french_card_published_specimens_validate(line2):
    # Specimen MRZs widely used to document the 1988-2021 layout (all three check digits valid).
    card = fr_id_1988.parse("IDFRABERTHIER<<<<<<<<<<<<<<<<<<<<<<<", line2)
    assert card.check_digits_ok and card.fields_ok
    assert (card.surname, card.given_names, card.birth, card.sex) == ("BERTHIER", "CORINNE", "651206", "F")
    assert card.issue_month() == date(1900 + int(line2[:2]) if line2[:2] >= "88" else 2000 + int(line2[:2]),
                                      int(line2[2:4]), 1)
    forged = line2[:-1] + str((int(line2[-1]) + 1) % 10)
    assert not fr_id_1988.parse("IDFRABERTHIER<<<<<<<<<<<<<<<<<<<<<<<", forged).check_digits_ok


def test_old_french_card_build_round_trips_and_uses_double_chevron_between_given_names():
    l1, l2 = fr_id_1988.build("DUPONT", "JEAN<<PIERRE", "150675012345", "075012", "800101", "M")
    assert len(l1) == len(l2) == 36
    card = fr_id_1988.parse(l1, l2)
    assert card.check_digits_ok and card.given_names == "JEAN PIERRE"


@pytest.mark.parametrize(("number", "office", "well_formed"), [
    ("05022A312345", "2A3012", True),  # Corsica before 2017: 2A plus an office digit
    ("17072B012345", "2B0012", True),
    ("180702A12345", "02A012", True),  # since 2017: 02A
    ("050692312345", "923012", True),
    ("05022C312345", "2C3012", False),  # no department has another letter
    ("0502A2312345", "A23012", False),
    ("0A0692312345", "923012", False),  # the issue month and the sequence are digits
    ("05069231234B", "923012", False),
])
def test_old_french_card_number_may_hold_corsicas_department(number, office, well_formed):
    card = fr_id_1988.parse(*fr_id_1988.build("CASANOVA", "JEAN", number, office, "800101", "M"))
    assert card.check_digits_ok
    assert card.fields_ok is well_formed


def test_old_french_expiry_is_15_years_for_adults_since_2014_else_10():
    l1, l2 = fr_id_1988.build("DUPONT", "JEAN", "150675012345", "075012", "800101", "M")
    assert fr_id_1988.parse(l1, l2).expiry(date(1980, 1, 1)) == date(2030, 6, 1)
    assert fr_id_1988.parse(l1, l2).expiry(date(2005, 1, 1)) == date(2025, 6, 1)  # minor at issue
    l1, l2 = fr_id_1988.build("DUPONT", "JEAN", "030675012345", "075012", "800101", "M")
    assert fr_id_1988.parse(l1, l2).expiry(date(1980, 1, 1)) == date(2013, 6, 1)  # issued before 2004


@pytest.mark.parametrize("fmt", list(MrzFormat))
def test_generated_cards_parse_with_valid_check_digits(fmt):
    for seed in range(20):
        card = make_card(fmt, seed)
        parsed = parse(fmt, card.mrz_lines, TODAY)
        assert parsed is not None and parsed.check_digits_valid and parsed.fields_valid
        assert parsed.document_number == card.document_number
        assert parsed.birth_date == card.birth_date and parsed.expiry_date == card.expiry_date
        assert (parsed.surname, parsed.given_names) == (card.mrz_surname, card.mrz_given_names)


@pytest.mark.parametrize("fmt", list(MrzFormat))
def test_any_flipped_digit_breaks_a_check_digit(fmt):
    for seed in range(60):
        card = flip_digit(make_card(fmt, seed), seed)
        parsed = parse(fmt, card.mrz_lines, TODAY)
        assert parsed is None or not parsed.check_digits_valid


def test_icao_specimen_check_digits():
    # ICAO 9303 specimens (state "UTO" is fictitious, so only check digits are asserted).
    td1 = ("I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")
    td3 = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
    assert parse(MrzFormat.TD1, td1, TODAY).check_digits_valid
    assert parse(MrzFormat.TD3, td3, TODAY).check_digits_valid
    assert parse(MrzFormat.TD3, td3, TODAY).surname == "ERIKSSON"


def test_unknown_cells_and_bad_geometry_do_not_parse():
    card = make_card(MrzFormat.TD1, 1)
    assert parse(MrzFormat.TD1, (card.mrz_lines[0][:-1] + "?",) + card.mrz_lines[1:], TODAY) is None
    assert parse(MrzFormat.TD1, card.mrz_lines[:2], TODAY) is None
    assert parse(MrzFormat.TD3, card.mrz_lines, TODAY) is None


def test_normalise_fixes_letter_digit_confusions_by_field_kind():
    lines = ("IDFRAX4RTBPFW4S<<<<<<<<<<<<<<<", "9OO1O11F31O1O12FRA<<<<<<<<<<<4", "DUP0NT<<MAR1E<<<<<<<<<<<<<<<<<")
    fixed = normalise(MrzFormat.TD1, lines)
    assert fixed[0] == "IDFRAX4RTBPFW45<<<<<<<<<<<<<<<"  # check digit position: S -> 5
    assert fixed[1] == "9001011F3101012FRA<<<<<<<<<<<4"
    assert fixed[2] == "DUPONT<<MARIE<<<<<<<<<<<<<<<<<"


def test_normalise_keeps_a_department_letter_only_after_a_2():
    line1 = "IDFRABERTHIER<<<<<<<<<<<<<<<<<<<<<<<"
    assert normalise(MrzFormat.FR_ID_1988, (line1, "88060B3102858CORINNE<<<<<<<6512068F6"))[1][4:7] == "0?3"
    assert normalise(MrzFormat.FR_ID_1988, (line1, "88062B3102858CORINNE<<<<<<<6512068F6"))[1][4:7] == "2B3"
    assert normalise(MrzFormat.FR_ID_1988, (line1, "880602B102858CORINNE<<<<<<<6512068F6"))[1][4:7] == "02B"


def test_normalise_rejects_wrong_geometry():
    with pytest.raises(ValueError):
        normalise(MrzFormat.TD3, ("P<FRA", "123"))


def test_normalise_closes_name_zones_after_their_first_triple_filler():
    td1 = ("IDFRAX4RTBPFW46<<<<<<<<<<<<<<<", "9007138F3002119FRA<<<<<<<<<<<6", "MARTIN<<MAELYS<<<R<<W<<<X<<<<<")
    assert normalise(MrzFormat.TD1, td1)[2] == "MARTIN<<MAELYS" + "<" * 16
    assert normalise(MrzFormat.TD1, td1)[:2] == td1[:2]  # the number's fillers are never rewritten
    # The old French card separates given names by '<<': two fillers do not end them.
    fr = ("IDFRABERTHIER<<<<<<<<<<<<<M<<<<<<<<<", "8806923102858JEAN<<PAUL<<<R6512068F6")
    line1, line2 = normalise(MrzFormat.FR_ID_1988, fr)
    assert line1 == "IDFRABERTHIER" + "<" * 23 and line2 == "8806923102858JEAN<<PAUL<<<<6512068F6"
