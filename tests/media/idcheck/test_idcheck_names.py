"""Names as the MRZ writes them: ICAO 9303 transliteration and names cut by the zone's length."""

from datetime import date

import pytest
from mrz.generator.td1 import TD1CodeGenerator
from mrz.generator.td3 import TD3CodeGenerator

from media.idcheck import NameMatch, fr_id_1988, names_match
from media.idcheck.formats import MrzFormat
from media.idcheck.names import compare
from media.idcheck.parse import parse

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("mrz_surname", "mrz_given", "first", "last"),
    [
        ("MULLER", "ELISE", "Élise", "Müller"),  # É -> E, Ü -> U
        ("MUELLER", "ELISE", "Élise", "Müller"),  # Ü -> UE
        ("STRASSER", "JOERG", "Jörg", "Straßer"),  # ß -> SS, Ö -> OE
        ("STRASSER", "JORG", "Jörg", "Straßer"),  # Ö -> O
        ("N DIAYE", "ANAIS", "Anaïs", "N'Diaye"),  # apostrophe written as '<'
        ("NDIAYE", "ANAIS", "Anaïs", "N'Diaye"),  # apostrophe dropped
        ("MARTIN GAEL", "JEAN PIERRE", "Jean-Pierre", "Martin-Gaël"),  # hyphens to '<'
        ("OEUVRAY", "CHLOE", "Chloé", "Œuvray"),
    ],
)
def test_icao_transliteration_matches(mrz_surname, mrz_given, first, last):
    assert compare(mrz_surname, mrz_given, first, last) is NameMatch.MATCH


def test_the_issue_example_given_name_cut_by_a_td1_card_says_truncated():
    # The generator refuses long names, so it is given the zone as the card would cut it.
    text = str(TD1CodeGenerator("ID", "FRA", "X4RTBPFW4", "900101", "F", "310101", "FRA",
                                "MONTMORENCY<LAVAL<DE<BEAU", "SOL"))
    lines = tuple(text.splitlines())
    assert lines[2] == "MONTMORENCY<LAVAL<DE<BEAU<<SOL"
    parsed = parse(MrzFormat.TD1, lines, TODAY)
    assert parsed is not None and parsed.given_names_truncated and not parsed.surname_truncated
    verdict = compare(parsed.surname, parsed.given_names, "Solène", "Montmorency-Laval de Beau",
                      parsed.surname_truncated, parsed.given_names_truncated)
    assert verdict is NameMatch.TRUNCATED
    assert names_match(parsed.surname, parsed.given_names, "Solène", "Montmorency-Laval de Beau",
                       parsed.surname_truncated, parsed.given_names_truncated)
    # The same cut name does not pass for someone else.
    for first, last in [("Sophie", "Montmorency-Laval de Beau"), ("Solène", "Montmorency"),
                        ("Marie Solène", "Montmorency-Laval de Beau")]:
        assert compare(parsed.surname, parsed.given_names, first, last, False, True) is NameMatch.MISMATCH


def test_a_name_that_only_looks_cut_is_a_mismatch():
    # "SOL" with filler after it is the whole given name: "Solène" is someone else.
    assert compare("MONTMORENCY LAVAL DE BEAU", "SOL", "Solène", "Montmorency-Laval de Beau") is NameMatch.MISMATCH


def test_passport_surname_filling_the_zone_is_truncated_and_only_the_surname_is_compared():
    line2 = str(TD3CodeGenerator("P", "D", "W", "H", "C01X00T47", "D", "700101", "M", "300101")).splitlines()[1]
    lines = ("P<D<<" + "WOLFESCHLEGELSTEINHAUSEN<BERGERDORFF<WE", line2)  # the zone cut mid-surname
    assert "<<" not in lines[0][5:] and lines[0][43] != "<"
    parsed = parse(MrzFormat.TD3, lines, TODAY)
    assert parsed is not None and parsed.surname_truncated and not parsed.given_names
    verdict = compare(parsed.surname, parsed.given_names, "Hubert",
                      "Wolfeschlegelsteinhausen-Bergerdorff-Welchevoralternwaren",
                      parsed.surname_truncated, parsed.given_names_truncated)
    assert verdict is NameMatch.TRUNCATED
    assert compare(parsed.surname, parsed.given_names, "Hubert", "Wolfeschlegel",
                   parsed.surname_truncated, parsed.given_names_truncated) is NameMatch.MISMATCH


def test_old_french_card_cuts_surname_and_given_names_separately():
    l1, l2 = fr_id_1988.build("DE<LA<FONTAINE<DES<BOIS<DORMANTS", "MARIE<<BERNADETTE<<SOLANGE",
                              "150675012345", "075012", "800101", "F")
    parsed = parse(MrzFormat.FR_ID_1988, (l1, l2), TODAY)
    assert parsed is not None and parsed.surname_truncated and parsed.given_names_truncated
    assert parsed.surname == "DE LA FONTAINE DES BOIS D" and parsed.given_names == "MARIE BERNADE"
    assert compare(parsed.surname, parsed.given_names, "Bernadette", "de la Fontaine des Bois-Dormants",
                   True, True) is NameMatch.TRUNCATED
    assert compare(parsed.surname, parsed.given_names, "Marie", "de la Fontaine des Bois-Dormants",
                   True, True) is NameMatch.TRUNCATED  # the surname agreed only as far as it goes
    assert compare(parsed.surname, parsed.given_names, "Marie", "de la Fontaine",
                   True, True) is NameMatch.MISMATCH
    short1, short2 = fr_id_1988.build("DUPONT", "MARIE", "150675012345", "075012", "800101", "F")
    full = parse(MrzFormat.FR_ID_1988, (short1, short2), TODAY)
    assert full is not None and not full.surname_truncated and not full.given_names_truncated
    assert compare(full.surname, full.given_names, "Marie", "Dupont") is NameMatch.MATCH
