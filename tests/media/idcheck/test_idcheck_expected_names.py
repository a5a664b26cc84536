"""The appointment's name weighed in where frames disagree on a name letter, and only there."""

from datetime import date

import pytest

from media.idcheck import MrzFormat, Outcome, check_frames
from media.idcheck.expected_names import ANY, expected_zones
from media.idcheck.reader import MAX_NAME_OVERRIDES, vote
from media.idcheck.synthetic import card_frames, make_card

TODAY = date(2026, 11, 23)
TD3_LINE2 = "10GH364784FRA4909259M2708160<<<<<<<<<<<<<<08"


def _td3(name_zone: str) -> tuple[str, str]:
    return ("P<FRA" + name_zone.ljust(39, "<"), TD3_LINE2)


def test_zones_are_spelt_by_icao_rules_and_say_nothing_elsewhere():
    masks = expected_zones(MrzFormat.TD3, "Baptiste", "Leroy")
    assert masks == [("*" * 5 + "LEROY<<BAPTISTE" + "*" * 24, "*" * 44)]
    fr = expected_zones(MrzFormat.FR_ID_1988, "Noémie", "Müller")
    assert {m[0][5:12] for m in fr} == {"MUELLER", "MULLER*"}  # Ö/Ü: both accepted spellings
    assert all(m[1][13:19] == "NOEMIE" and set(m[1][:13] + m[1][19:]) == {ANY} for m in fr)
    td1 = expected_zones(MrzFormat.TD1, "Marie-Claire", "Saint-Exupéry")
    assert td1[0][2].startswith("SAINT<EXUPERY<<MARIE<CLAIRE") and td1[0][:2] == ("*" * 30, "*" * 30)
    # A surname longer than the zone is cut where the card cuts it.
    long = expected_zones(MrzFormat.TD3, "Ann", "Montmorency-Laval de Beaulieu-Sol de Rochechouart")
    assert len(long[0][0]) == 44 and ANY not in long[0][0][5:]


def test_a_name_letter_most_frames_read_needs_no_two_to_one_lead_when_expected():
    reads = [_td3("LEROY<<BAPTISTE")] * 3 + [_td3("LERDY<<BAPTISTE")] * 2
    mask = expected_zones(MrzFormat.TD3, "Baptiste", "Leroy")[0]
    assert vote(MrzFormat.TD3, reads) is None  # 3:2 is short of the plain vote's 2:1 lead
    assert vote(MrzFormat.TD3, reads, expected=mask)[0].startswith("P<FRALEROY<<BAPTISTE")


@pytest.mark.parametrize("read_as_expected, read_otherwise", [(1, 1), (2, 4), (3, 3)])
def test_the_claimed_name_never_wins_a_tie_or_against_the_frames(read_as_expected, read_otherwise):
    """A 3:3 tie between QUENTIN and GUENTIN settled by the name claimed verified an impostor's
    look-alike name on the evaluation set: a tie stays undecided, a minority stays beaten."""
    mask = expected_zones(MrzFormat.TD3, "Baptiste", "Leroy")[0]
    reads = [_td3("LERDY<<BAPTISTE")] * read_otherwise + [_td3("LEROY<<BAPTISTE")] * read_as_expected
    voted = vote(MrzFormat.TD3, reads, expected=mask)
    assert voted is None or voted[0].startswith("P<FRALERDY")
    assert voted == vote(MrzFormat.TD3, reads)


def test_no_more_than_two_cells_are_settled_by_the_claimed_name():
    mask = expected_zones(MrzFormat.TD3, "Baptiste", "Leroy")[0]
    three = [_td3("LEROY<<BAPTISTE")] * 3 + [_td3("LERDY<<BAPTLSTF")] * 2
    assert vote(MrzFormat.TD3, three, expected=mask) is None  # three cells: the expectation is dropped
    assert MAX_NAME_OVERRIDES == 2
    two = [_td3("LEROY<<BAPTISTE")] * 3 + [_td3("LERDY<<BAPTISTF")] * 2
    assert vote(MrzFormat.TD3, two, expected=mask)[0].startswith("P<FRALEROY<<BAPTISTE<")


def test_cells_outside_the_names_are_never_touched():
    """A mask that (wrongly) spelt a number cell still changes nothing there: only what a
    frame read can be chosen, and the document number is voted and agreed as before."""
    mask = expected_zones(MrzFormat.TD3, "Baptiste", "Leroy")[0]
    other = TD3_LINE2.replace("10GH", "10QH")
    reads = [(_td3("LEROY<<BAPTISTE")[0], other)] * 4 + [_td3("LEROY<<BAPTISTE")] * 2
    assert vote(MrzFormat.TD3, reads, expected=mask)[1] == other


@pytest.mark.parametrize("fmt", list(MrzFormat))
def test_an_impostor_whose_name_differs_by_one_look_alike_letter_is_a_name_mismatch(fmt):
    """The card is sharp: no frame reads the appointment's letter, so nothing is overridden."""
    card = next(c for c in (make_card(fmt, seed) for seed in range(50)) if set("OEBR") & set(c.mrz_surname))
    surname = card.mrz_surname
    at = next(i for i, c in enumerate(surname) if c in "OEBR")
    look_alike = {"O": "D", "E": "F", "B": "R", "R": "B"}[surname[at]]
    appointment = surname[:at] + look_alike + surname[at + 1:]
    result = check_frames(card_frames(card, 11, 6), card.given_names, appointment, today=TODAY, max_frames=6)
    assert result.outcome is Outcome.MISMATCH and result.reasons == ("name",)
    assert result.surname == surname


def test_the_genuine_card_still_verifies():
    card = make_card(MrzFormat.TD3, 11)
    result = check_frames(card_frames(card, 11, 6), card.given_names, card.surname, today=TODAY, max_frames=6)
    assert result.outcome is Outcome.VERIFIED
