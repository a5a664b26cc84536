"""Numbers typed by an agent are read in the structure's territory (from its time zone,
or chosen): every numbering plan of the Republic, through the real booking form."""

from __future__ import annotations

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from portal.models import Appointment, Role, Structure
from portal.phones import to_e164
from tests import factories

ADD_URL = reverse("admin:portal_appointment_add")

# (time zone, region, a mobile as an agent types it there, its E.164, its refusal phrase)
TERRITORIES = [  # fmt: skip
    ("Europe/Paris", "FR", "06 12 34 56 78", "+33612345678",
     "pour la France métropolitaine : 06 12 34 56 78 ou +33 6 12 34 56 78"),
    ("Indian/Reunion", "RE", "0692 12 34 56", "+262692123456", "pour La Réunion : 0692 12 34 56 ou +262 692 12 34 56"),
    ("Indian/Mayotte", "YT", "0639 01 23 45", "+262639012345", "pour Mayotte : 0639 01 23 45 ou +262 639 01 23 45"),
    ("America/Guadeloupe", "GP", "0690 00 12 34", "+590690001234",
     "pour la Guadeloupe : 0690 00 12 34 ou +590 690 00 12 34"),
    ("America/Martinique", "MQ", "0696 20 12 34", "+596696201234",
     "pour la Martinique : 0696 20 12 34 ou +596 696 20 12 34"),
    ("America/Cayenne", "GF", "0694 20 12 34", "+594694201234", "pour la Guyane : 0694 20 12 34 ou +594 694 20 12 34"),
    ("America/Miquelon", "PM", "055 12 34", "+508551234", "pour Saint-Pierre-et-Miquelon : 055 12 34 ou +508 55 12 34"),
    ("Pacific/Noumea", "NC", "75.12.34", "+687751234", "pour la Nouvelle-Calédonie : 75.12.34 ou +687 75.12.34"),
    ("Pacific/Tahiti", "PF", "87 12 34 56", "+68987123456",
     "pour la Polynésie française : 87 12 34 56 ou +689 87 12 34 56"),
]


def form_data(structure, agent, phone):
    return {
        "structure": structure.pk, "agent": agent.pk, "citizen_first_name": "Jeanne", "citizen_last_name": "Dupont",
        "citizen_email": "", "citizen_phone": phone, "preferred_channel": "sms", "start_0": "2030-12-03",
        "start_1": "10:00", "duration_minutes": "30", "subject": "Carte grise",
    }  # fmt: skip


@pytest.fixture
def agent_in(db, client_of):
    def make(time_zone: str, **fields) -> tuple[Structure, object]:
        structure = Structure.objects.create(name=f"Mairie ({time_zone})", time_zone=time_zone, **fields)
        agent = factories.member(structure, Role.AGENT)
        return structure, client_of(agent), agent

    return make


def book(agent_in, time_zone, phone, **fields):
    structure, client, agent = agent_in(time_zone, **fields)
    return client.post(ADD_URL, form_data(structure, agent, phone))


def phone_errors(response) -> str:
    assert response.status_code == 200, "the form was accepted"
    assert not Appointment.objects.exists()
    return " ".join(response.context["adminform"].form.errors["citizen_phone"])


@pytest.mark.parametrize(("time_zone", "region", "typed", "e164", "_phrase"), TERRITORIES)
def test_a_local_mobile_is_accepted_and_stored_in_e164(agent_in, time_zone, region, typed, e164, _phrase):
    response = book(agent_in, time_zone, typed)
    assert response.status_code == 302, response.context["adminform"].form.errors
    stored = Appointment.objects.get().citizen_phone
    assert stored == e164
    assert phonenumbers.region_code_for_number(phonenumbers.parse(stored)) == region


# Saint-Pierre-et-Miquelon's plan does not tell landlines from mobiles (FIXED_LINE_OR_MOBILE).
@pytest.mark.parametrize(("time_zone", "region", "typed", "e164", "phrase"), [t for t in TERRITORIES if t[1] != "PM"])
def test_refusals_give_the_territorys_example(agent_in, time_zone, region, typed, e164, phrase):
    # A landline of the territory cannot receive an SMS; a number too short is no number.
    landline = phonenumbers.format_number(
        phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.FIXED_LINE),
        phonenumbers.PhoneNumberFormat.NATIONAL,
    )
    text = phone_errors(book(agent_in, time_zone, landline))
    assert f"« {landline} » n’est pas un numéro de mobile" in text and phrase in text
    text = phone_errors(book(agent_in, time_zone, "12"))
    assert "« 12 » n’est pas un numéro valide" in text and phrase in text


def test_a_metropolitan_06_in_reunion_is_read_as_the_library_says(agent_in):
    # Read in RE, 06 12 34 56 78 is +262 612 345 678: no such number there. Refused, with
    # the Réunion example and the hint to type other territories in international form.
    text = phone_errors(book(agent_in, "Indian/Reunion", "06 12 34 56 78"))
    assert "« 06 12 34 56 78 » n’est pas un numéro valide pour La Réunion" in text
    assert "0692 12 34 56 ou +262 692 12 34 56" in text
    assert "forme internationale" in text


@pytest.mark.parametrize("time_zone", [tz for tz, *_rest in TERRITORIES])
@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("+33 6 12 34 56 78", "+33612345678"),
        ("00 262 692 12 34 56", "+262692123456"),
        ("+689 87 12 34 56", "+68987123456"),
    ],
)
def test_another_territorys_number_in_international_form_is_accepted_everywhere(agent_in, time_zone, typed, e164):
    response = book(agent_in, time_zone, typed)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Appointment.objects.get().citizen_phone == e164


def test_the_chosen_territory_wins_over_the_time_zone(agent_in):
    # A structure of Mayotte whose server zone was left at Paris.
    response = book(agent_in, "Europe/Paris", "0639 01 23 45", phone_region="YT")
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Appointment.objects.get().citizen_phone == "+262639012345"


def test_english_refusal():
    with translation.override("en"):
        with pytest.raises(ValidationError) as error:  # noqa: PT012 - the message is read in English
            to_e164("0612345678", "GP", mobile=True)
        text = " ".join(error.value.messages)
    assert "for Guadeloupe (wrong length or prefix). Example: 0690 00 12 34, or in international form" in text
    assert "+590 690 00 12 34" in text
