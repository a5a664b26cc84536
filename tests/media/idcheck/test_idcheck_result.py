"""Result type: name matching, expiry, audit line."""

from datetime import date

import pytest

from media.idcheck import IdCheckResult, MrzFormat, Outcome, names_match


@pytest.mark.parametrize(
    ("mrz_surname", "mrz_given", "first", "last"),
    [
        ("DUPONT", "MARIE HELENE", "Marie", "Dupont"),
        ("DUPONT", "MARIE HELENE", "marie-hélène", "DUPONT"),
        ("LEFEVRE", "ELODIE", "Élodie", "Lefèvre"),
        ("NDIAYE", "ANAIS", "Anaïs", "N'Diaye"),
        ("MARTIN GAEL", "LOIC", "Loïc", "Martin-Gaël"),
        ("OZTURK", "BJORN", "Björn", "Öztürk"),
        ("OEZTUERK", "BJOERN", "Björn", "Öztürk"),  # ICAO's alternative transliteration
        ("LAETITIA", "CELINE", "Céline", "Lætitia"),
        ("COEUR", "FRANCOIS", "françois", "Cœur"),
    ],
)
def test_names_match_ignoring_accents_case_and_separators(mrz_surname, mrz_given, first, last):
    assert names_match(mrz_surname, mrz_given, first, last)


@pytest.mark.parametrize(
    ("mrz_surname", "mrz_given", "first", "last"),
    [
        ("DUPONT", "MARIE", "Marie", "Dupond"),
        ("DUPONT", "MARIE", "Mario", "Dupont"),
        ("DUPONT", "MARIE", "Marie", "Dupont-Martin"),
        ("DUPONT", "MARIE", "", "Dupont"),
        ("", "", "Marie", "Dupont"),
        ("DUPONT", "ANNE MARIE", "Marie Anne", "Dupont"),
    ],
)
def test_names_do_not_match(mrz_surname, mrz_given, first, last):
    assert not names_match(mrz_surname, mrz_given, first, last)


def _result(**kw) -> IdCheckResult:
    base = dict(outcome=Outcome.VERIFIED, document_format=MrzFormat.TD1, document_type="ID", surname="DUPONT",
                given_names="MARIE", birth_date=date(1990, 1, 1), document_number="X4RTBPFW4",
                expiry_date=date(2031, 1, 1), all_check_digits_valid=True, checked_on=date(2026, 11, 23))
    base.update(kw)
    return IdCheckResult(**base)


def test_expiry_relative_to_a_given_date():
    result = _result(expiry_date=date(2026, 11, 22))
    assert result.expired
    assert result.is_expired(date(2026, 11, 23))
    assert not result.is_expired(date(2026, 11, 22))  # valid through its expiry day
    assert not _result().expired
    assert not _result(expiry_date=None).is_expired(date(2100, 1, 1))


def test_name_matches_method_and_last4():
    result = _result()
    assert result.name_matches("marie", "DUPONT")
    assert not result.name_matches("Marie", "Durand")
    assert result.number_last4 == "PFW4"
    assert _result(document_number="12AB<<<<<").number_last4 == "12AB"


def test_audit_line_carries_no_name_birth_date_or_full_number():
    line = _result().audit_line()
    assert "outcome=verified" in line and "...PFW4" in line
    for secret in ("DUPONT", "MARIE", "X4RTBPFW4", "1990"):
        assert secret not in line
    assert "X4RTBPFW4" not in repr(_result())


def test_outcome_values_are_stable_strings():
    assert [o.value for o in Outcome] == ["verified", "mismatch", "unreadable", "refused"]
