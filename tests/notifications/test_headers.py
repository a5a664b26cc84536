"""Subjects and names read word for word, whatever the reader: the raw bytes received by
the local SMTP server, parsed strictly (policy=strict) and through compat32's
decode_header/make_header. CPython's folder may put a space between two encoded-words,
where readers drop it ("le 3 décembreà 14h30"): notifications/backends/email.py folds
these headers itself."""

from __future__ import annotations

import datetime as dt
import email.policy
import re
from email.header import decode_header, make_header
from email.parser import BytesParser

import pytest
from django.utils import timezone

from notifications.models import Kind, Notification
from portal import booking
from portal.models import Channel
from portal.timezones import local_to_utc

EMAIL = "jeanne.dupont@example.org"
LONG_NAME = "Maison France Services de Saint-Rémy-en-Bouzemont-Saint-Genest-et-Isson"


def next_date(month: int, day: int, hour: int, minute: int) -> dt.datetime:
    """The next `day`/`month` at hour:minute in Paris, as a UTC instant."""
    year = timezone.now().year
    for candidate in (year, year + 1):
        start = local_to_utc(dt.datetime(candidate, month, day, hour, minute), "Europe/Paris")
        if start > timezone.now() + dt.timedelta(days=2):
            return start
    raise AssertionError("unreachable")


def raw_header(raw: bytes, name: str) -> str:
    """The header as it travelled, unfolded only by the parser's compat32 rules."""
    value = BytesParser(policy=email.policy.compat32).parsebytes(raw)[name]
    assert isinstance(value, str)
    return value


def read_both_ways(raw: bytes, name: str) -> tuple[str, str]:
    strict = BytesParser(policy=email.policy.strict).parsebytes(raw)[name]
    compat = str(make_header(decode_header(raw_header(raw, name))))
    return str(strict), compat


def header_lines(raw: bytes, name: str) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("ascii")  # 7-bit: it must decode
    match = re.search(rf"^{name}:.*(?:\r?\n[ \t].*)*", head, re.MULTILINE | re.IGNORECASE)
    assert match, head
    return match.group(0).splitlines()


def only_encoded_words(raw: bytes, name: str) -> bool:
    """Every space of the subject is inside an encoded-word: whitespace between the words
    is folding only, which every reader drops, whatever the Python that wrote it."""
    lines = header_lines(raw, name)
    words = " ".join([lines[0].split(":", 1)[1], *lines[1:]]).split()
    return all(re.fullmatch(r"=\?utf-8\?[qb]\?[^?\s]*\?=", word, re.IGNORECASE) for word in words)


@pytest.fixture
def long_named(structure_a):
    structure_a.name = LONG_NAME
    structure_a.save()
    return structure_a


def test_long_subjects_with_accents_after_spaces_read_word_for_word(providers, book, long_named):
    _twilio, smtp = providers
    book(preferred_channel=Channel.EMAIL, start=next_date(12, 3, 14, 30))
    (mail,) = smtp.to(EMAIL)
    expected = f"{LONG_NAME} : rendez-vous en visio le 3 décembre à 14h30"
    assert len(expected) > 78
    assert read_both_ways(mail.raw, "Subject") == (expected, expected)
    assert all(len(line) <= 78 for line in header_lines(mail.raw, "Subject"))
    assert only_encoded_words(mail.raw, "Subject")


def test_cancellation_subject(providers, book, long_named, django_capture_on_commit_callbacks):
    _twilio, smtp = providers
    appointment = book(preferred_channel=Channel.EMAIL, start=next_date(8, 4, 9, 0))
    with django_capture_on_commit_callbacks(execute=True):
        booking.cancel(appointment)
    assert Notification.objects.filter(appointment=appointment, kind=Kind.CANCELLED, status="sent").exists()
    (mail,) = [m for m in smtp.to(EMAIL) if "annul" in m.message["Subject"]]
    expected = f"{LONG_NAME} : rendez-vous du 4 août annulé"
    assert read_both_ways(mail.raw, "Subject") == (expected, expected)
    assert only_encoded_words(mail.raw, "Subject")


@pytest.mark.parametrize(
    "name",
    [
        "Mairie de L’Haÿ-les-Roses",
        "Communauté d’agglomération du Pays de Saint-Étienne — service état civil et élections à distance",
    ],
)
def test_structure_names_as_subjects_and_sender_names(providers, book, structure_a, settings, name):
    _twilio, smtp = providers
    structure_a.name = name
    structure_a.save()
    settings.DEFAULT_FROM_EMAIL = f"{name} <noreply@visio.example.fr>"
    book(preferred_channel=Channel.EMAIL, start=next_date(2, 5, 16, 0))
    (mail,) = smtp.to(EMAIL)
    expected = f"{name} : rendez-vous en visio le 5 février à 16h00"
    assert read_both_ways(mail.raw, "Subject") == (expected, expected)
    strict = BytesParser(policy=email.policy.strict).parsebytes(mail.raw)
    (sender,) = strict["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (name, "noreply@visio.example.fr")
    assert str(make_header(decode_header(raw_header(mail.raw, "From")))) == f"{name} <noreply@visio.example.fr>"
    assert all(len(line) <= 78 for line in header_lines(mail.raw, "From"))
