import pytest
from django.core.exceptions import ValidationError

from portal.phones import display, to_e164


@pytest.mark.parametrize(
    "typed",
    ["06 12 34 56 78", "0612345678", "06.12.34.56.78", "+33 6 12 34 56 78", "0033612345678", "+33612345678"],
)
def test_french_mobiles_typed_any_way_become_e164(typed):
    assert to_e164(typed, mobile=True) == "+33612345678"


def test_overseas_and_foreign_numbers():
    assert to_e164("+590 690 12 34 56", mobile=True) == "+590690123456"  # Guadeloupe mobile
    assert to_e164("+32 470 12 34 56", mobile=True) == "+32470123456"  # Belgium


@pytest.mark.parametrize(
    ("typed", "code"),
    [("bonjour", "phone_unreadable"), ("06 12 34", "phone_invalid"), ("", "phone_unreadable")],
)
def test_bad_numbers_have_clear_errors(typed, code):
    with pytest.raises(ValidationError) as error:
        to_e164(typed)
    assert error.value.code == code


def test_landline_refused_for_sms():
    assert to_e164("01 42 76 40 40") == "+33142764040"
    with pytest.raises(ValidationError) as error:
        to_e164("01 42 76 40 40", mobile=True)
    assert error.value.code == "phone_not_mobile"


def test_display():
    assert display("+33612345678") == "06 12 34 56 78"
    assert display("+32470123456").startswith("+32")
