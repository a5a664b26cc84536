"""SMS that cost what they should: GSM 03.38 arithmetic, transliteration that keeps
meaning, the render-time guard, short links, the structure's sender ID."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from notifications import messages, shortlinks, sms
from notifications.backends import get_backend
from notifications.models import Kind, Notification, ShortLink, State
from portal import booking
from portal.models import Channel
from rooms.models import Participant
from tests import factories
from tests.notifications.links import SHORT, long_link
from tests.notifications.servers import FROM_NUMBER


def sms_row(appointment, kind=Kind.REMINDER, language="fr") -> Notification:
    return Notification.objects.create(
        appointment=appointment, kind=kind, channel=Channel.SMS, due_at=timezone.now(), language=language,
        status=State.SENT,  # rendered here, never queued (one pending reminder per appointment)
    )


# --------------------------------------------------------------------------- arithmetic
def test_extension_characters_count_two_and_are_never_split_between_parts():
    assert sms.segments("€" * 80) == 1 and sms.segments("€" * 81) == 2
    # 152 septets then an escape pair: the pair cannot straddle parts 1 and 2.
    assert sms.segments("a" * 152 + "€" + "a" * 152) == 3
    assert sms.segments("a" * 151 + "€" + "a" * 153) == 2
    assert sms.segments("\f") == 1 and sms.septets("\f[]") == 6


def test_one_character_outside_gsm7_makes_ucs2():
    assert sms.encoding("Fête") == "UCS-2" and sms.encoding("Fète, Ça, à") == "GSM-7"
    assert sms.segments("ê" * 70) == 1 and sms.segments("ê" * 71) == 2
    assert sms.segments("😀" * 35) == 1 and sms.segments("😀" * 36) == 2  # surrogate pairs count two
    assert sms.segments("ç") == 1 and sms.encoding("ç") == "UCS-2"  # only the capital Ç is in the table


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Cœuvres-et-Valsery", "Coeuvres-et-Valsery"),
        ("Tarif : 12 €", "Tarif : 12 EUR"),
        ("Bureau n°3", "Bureau no3"),
        ("L’Haÿ-les-Roses", "L'Hay-les-Roses"),
        ("«Fête» à l’île…", '"Fete" à l\'ile...'),
        ("Ça, é è ù ì ò É à", "Ça, é è ù ì ò É à"),  # in the GSM-7 table: kept
        ("ç ê â î ô û ë ï È Ê À Ô", "c e a i o u e i E E A O"),
        ("Łukasz Œuvray-Ñandú", "Lukasz OEuvray-Ñandu"),
        ("Rendez-vous\u202f: 10\u00a0h — [salle] {2}", "Rendez-vous : 10 h - (salle) (2)"),
        ("Anne 😀 Marie", "Anne Marie"),
        ("王", "?"),
    ],
)
def test_transliteration_keeps_meaning(text, expected):
    assert sms.transliterate(text) == expected


@given(st.text())
def test_any_text_transliterates_to_gsm7_basic(text):
    out = sms.transliterate(text)
    assert all(ch in sms.GSM_BASIC for ch in out), out
    assert sms.encoding(out) == "GSM-7"


@given(st.text(min_size=1), st.integers(min_value=8, max_value=80))
def test_shortened_names_stay_within_their_limit(text, limit):
    assert len(sms.to_gsm(text, limit)) <= limit


def test_names_are_cut_at_words_and_never_on_a_dangling_word():
    assert sms.shorten("Maison France Services de Saint-Rémy", 28) == "Maison France Services."
    assert sms.abbreviate("Maison France Services de Saint-Rémy-en-Bouzemont-Saint-Genest-et-Isson") == (
        "France Services de St-Rémy-en-Bouzemont-St-Genest-et-Isson"
    )


# --------------------------------------------------------------------------- the guard
NAMES = st.text(
    # What a form lets through (Django refuses NUL characters).
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"),
    min_size=1,
    max_size=200,
).filter(lambda s: s.strip())
FRENCH_NAMES = st.sampled_from([
    "Mairie de Démo-sur-Loire", "Mairie de Cœuvres-et-Valsery", "France Services de L’Haÿ-les-Roses",
    "Maison France Services de Saint-Rémy-en-Bouzemont-Saint-Genest-et-Isson",
    "Communauté d’agglomération du Pays de Saint-Étienne — maison France Services île",
    "CCAS de Saint-Denis (La Réunion) « accueil » n°2 — 1 € la copie",
])  # fmt: skip


@pytest.fixture
def one(structure_a, alice):
    return factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(days=3))


@pytest.mark.parametrize("language", ["fr", "en"])
@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(structure=st.one_of(FRENCH_NAMES, NAMES), first=NAMES, last=NAMES, address=NAMES)
def test_every_sms_is_gsm7_within_two_segments_whatever_the_names(one, language, structure, first, last, address):
    one.structure.name, one.structure.address = structure[:200], address
    one.structure.save()
    one.citizen_first_name, one.citizen_last_name = first[:100], last[:100]
    one.save()
    for kind in Kind:
        body = messages.render(sms_row(one, kind, language)).body
        assert sms.encoding(body) == "GSM-7", body
        assert sms.segments(body) <= sms.MAX_SEGMENTS, body


def test_typical_confirmation_and_reminder_take_one_segment(one, settings):
    settings.SITE_URL = "https://visio.example.fr"
    for kind in (Kind.CONFIRMATION, Kind.REMINDER):
        body = messages.render(sms_row(one, kind)).body
        assert sms.segments(body) == 1 and body.startswith("Mairie A : "), body


def test_the_guard_shortens_the_name_before_a_second_segment(one):
    one.structure.name = "Maison France Services de Saint-Rémy-en-Bouzemont-Saint-Genest-et-Isson"
    one.structure.save()
    body = messages.render(sms_row(one, Kind.REMINDER)).body
    assert sms.segments(body) == 1, body
    assert body.startswith("France Services de St-Rémy-en-Bouzemont"), body


def test_an_edited_template_cannot_switch_to_ucs2(one, settings, tmp_path):
    override = tmp_path / "notifications" / "fr"
    override.mkdir(parents=True)
    (override / "reminder_sms.txt").write_text(
        "{{ structure_name }} : ça commence bientôt ! {{ join_url }} – code {{ password }} 👋"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    messages._engine.cache_clear()
    try:
        body = messages.render(sms_row(one)).body
    finally:
        messages._engine.cache_clear()
    assert body.startswith("Mairie A : ca commence bientot ! https://") and sms.encoding(body) == "GSM-7"
    assert body.endswith(f"- code {one.room.password}")


# --------------------------------------------------------------------------- short links
def test_short_link_is_stable_random_and_resolves_to_the_personal_link(one, client):
    first = messages.render(sms_row(one)).body
    assert messages.render(sms_row(one)).body == first  # same text every time (SMS reconciliation)
    (code,) = SHORT.findall(first)
    assert str(one.pk) not in code and ShortLink.objects.get(code=code).appointment == one
    answer = client.get(f"/j/{code}")
    assert answer.status_code == 302 and answer["Location"] == one.room.personal_url_for("sms")
    assert answer["Referrer-Policy"] == "no-referrer" and "no-store" in answer["Cache-Control"]


def test_a_link_scanner_following_the_short_link_binds_nothing(one, client, settings):
    one.start = timezone.now() + dt.timedelta(minutes=5)
    booking.update(one, previous_start=None)
    target = long_link(messages.render(sms_row(one)).body)
    (code,) = SHORT.findall(messages.render(sms_row(one)).body)
    redirect = client.get(f"/j/{code}")
    assert redirect["Location"] == target
    page = client.get(target.removeprefix(settings.SITE_URL))  # what a scanner does next
    assert page.status_code == 200 and "t=" in target
    assert not Participant.objects.filter(room=one.room).exists()  # the GET only shows the button


def test_short_link_dies_with_the_appointment(one, client):
    code = SHORT.findall(messages.render(sms_row(one)).body)[0]
    end_of_window = shortlinks.expires_at(one)
    assert shortlinks.target_of(code, now=end_of_window - dt.timedelta(seconds=1))
    assert shortlinks.target_of(code, now=end_of_window) is None
    booking.cancel(one)
    assert client.get(f"/j/{code}").status_code == 404


@pytest.mark.parametrize("code", ["AAAAAAAAAA", "short", "a" * 11, "abc$efghij"])
def test_unknown_or_malformed_codes_are_not_found(db, client, code):
    answer = client.get(f"/j/{code}")
    assert answer.status_code == 404


def test_short_links_only_answer_safe_methods(one, client):
    code = SHORT.findall(messages.render(sms_row(one)).body)[0]
    assert client.post(f"/j/{code}").status_code == 405


# --------------------------------------------------------------------------- sender ID
def test_alphanumeric_sender_for_metropolitan_numbers_and_the_number_overseas(structure_a, alice, twilio):
    structure_a.sms_sender_id = "MAIRIE A"
    structure_a.save()
    metropolitan = factories.appointment(structure_a, alice, preferred_channel=Channel.SMS)
    reunion = factories.appointment(structure_a, alice, preferred_channel=Channel.SMS, citizen_phone="+262692123456")
    backend = get_backend(Channel.SMS)
    for appointment in (metropolitan, reunion):
        backend.send(messages.render(sms_row(appointment)))
    assert [sms.sender for sms in twilio.sent_to("+33612345678")][-1] == "MAIRIE A"
    assert [sms.sender for sms in twilio.sent_to("+262692123456")][-1] == FROM_NUMBER


def test_sender_id_is_validated(structure_a):
    from django.core.exceptions import ValidationError

    for bad in ["", "TOOLONGNAME1", "12345", "MAIRIE-A"]:
        structure_a.sms_sender_id = bad
        if bad:
            with pytest.raises(ValidationError):
                structure_a.full_clean()
    structure_a.sms_sender_id = "Mairie A"
    structure_a.full_clean()
