"""A citizen's data: everything a structure holds about a phone number or an email address,
exported (JSON, CSV) or erased, each action written to the audit trail.

The rows are found through the retention registry (portal/retention.py): the appointments
whose citizen has that number or address, then every kind's rows about them (messages,
requests, chat, participants, join attempts, ID checks), plus the messages sent to that
address from other appointments and the SMS opt-outs of that number. A kind added to the
registry is found, exported and erased with no change here.

Helpdesk and managers search and export; only managers erase (portal/citizendata_views.py).
An erase counts the appointments into the statistics first, then purges every kind's rows
about them at once (whatever the delays) and deletes the number's opt-outs; appointments
still to come are left alone (cancel them first), and said so.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.models import Notification, SmsOptOut
from portal import phones, retention
from portal.models import Appointment, CitizenDataAudit, Status, Structure

MAX_LENGTH = 254
E164 = re.compile(r"\+[0-9]{4,15}")
# Secrets and plumbing that say nothing about the citizen: never exported.
HIDDEN = {
    "notifications.Notification": {"claim_token", "claimed_at", "first_claimed_at", "dispatched_at"},
    "rooms.Participant": {"token_id", "process", "channel", "lease_until"},
    "notifications.ShortLink": {"target", "code"},
}


class BadTerm(ValueError):
    """What was typed is neither a phone number nor an email address (the message says why)."""


@dataclass(frozen=True)
class Term:
    kind: str  # "phone" or "email"
    value: str  # E.164, or the address in lower case

    def digest(self) -> str:
        """A keyed digest for the audit trail: proves what was searched, without keeping it."""
        return hmac.new(settings.SECRET_KEY.encode(), f"{self.kind}:{self.value}".encode(), hashlib.sha256).hexdigest()


def parse(raw: str, structure: Structure) -> Term:
    """A phone number (national numbers read in the structure's territory) or an email."""
    text = (raw or "").strip()
    if not text:
        raise BadTerm(_("Type a phone number or an email address."))
    if len(text) > MAX_LENGTH:
        raise BadTerm(_("This is too long for a phone number or an email address."))
    if "@" in text:
        try:
            validate_email(text)
        except ValidationError:
            raise BadTerm(_("This email address is not valid."))
        return Term("email", text.lower())
    try:
        return Term("phone", phones.to_e164(text, structure.phone_region_code()))
    except ValidationError as error:
        raise BadTerm(" ".join(str(m) for m in error.messages))


def _appointments(structure: Structure, term: Term) -> models.QuerySet[Appointment]:
    rows = Appointment.objects.filter(structure=structure)
    if term.kind == "phone":
        return rows.filter(citizen_phone=term.value)
    return rows.filter(citizen_email__iexact=term.value)


def _recipient(term: Term) -> Q:
    return Q(recipient=term.value) if term.kind == "phone" else Q(recipient__iexact=term.value)


@dataclass
class Found:
    structure: Structure
    term: Term
    appointment_ids: list[int] = field(default_factory=list)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # model label -> rows

    @property
    def rows(self) -> int:
        return sum(len(rows) for rows in self.tables.values())

    def upcoming(self, now: dt.datetime | None = None) -> list[int]:
        now = now or timezone.now()
        return list(Appointment.objects.filter(pk__in=self.appointment_ids, status=Status.SCHEDULED,
                                               start__gte=now - retention.LONGEST).values_list("pk", flat=True))


def _values(rows: models.QuerySet) -> list[dict[str, Any]]:
    label = rows.model._meta.label
    names = [f.attname for f in rows.model._meta.concrete_fields
             if f.attname not in HIDDEN.get(label, set()) and not isinstance(f, models.BinaryField)]  # (its text is)
    return list(rows.order_by("pk").values(*names))


def find(structure: Structure, term: Term) -> Found:
    """Everything `structure` holds about `term` (one query per kind of data)."""
    found = Found(structure, term)
    found.appointment_ids = list(_appointments(structure, term).order_by("start").values_list("pk", flat=True))
    querysets: dict[str, models.QuerySet] = {}
    for kind in retention.REGISTRY.values():
        if kind.about is None or not kind.per_structure:
            continue
        label = kind.model._meta.label
        rows = kind.about(kind.model._default_manager.all(), found.appointment_ids)
        querysets[label] = querysets[label] | rows if label in querysets else rows
    sent = Notification.objects.filter(_recipient(term), appointment__structure=structure)
    label = Notification._meta.label
    querysets[label] = querysets[label] | sent if label in querysets else sent
    if term.kind == "phone":
        querysets[SmsOptOut._meta.label] = SmsOptOut.objects.filter(structure=structure, phone=term.value)
    # The back-office's history of those appointments (it names the citizen, may quote changes).
    querysets[LogEntry._meta.label] = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Appointment),
        object_id__in=[str(pk) for pk in found.appointment_ids])
    for label, rows in querysets.items():
        values = _values(rows.distinct())
        if values:
            found.tables[label] = values
    return found


def audit(user, structure: Structure, action: str, term: Term, rows: int) -> CitizenDataAudit:
    return CitizenDataAudit.objects.create(user=user, username=user.get_username(), structure=structure,
                                           action=action, term_kind=term.kind, term_digest=term.digest(), rows=rows)


def to_json(found: Found) -> str:
    return json.dumps({
        "structure": found.structure.name, "searched": {"kind": found.term.kind, "value": found.term.value},
        "exported_at": timezone.now(), "tables": found.tables,
    }, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)


def csv_rows(found: Found) -> Iterable[list[str]]:
    """Long format (the tables have different columns): table, row id, field, value."""
    yield ["table", "id", "field", "value"]
    for label, rows in found.tables.items():
        for row in rows:
            for name, value in row.items():
                text = value.isoformat() if isinstance(value, dt.datetime | dt.date) else str(value if value is not
                                                                                                  None else "")
                yield [label, str(row.get("id", "")), name, _safe_cell(text)]


def _safe_cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection); a phone number in
    E.164 stays as it is (digits only after the "+": nothing to run)."""
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not E164.fullmatch(text):
        return "'" + text
    return text


def to_csv(found: Found) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(csv_rows(found))
    return out.getvalue()


@dataclass
class Erased:
    appointments: int
    kept_upcoming: int
    purged: dict[str, int]


@transaction.atomic
def erase(found: Found, now: dt.datetime | None = None) -> Erased:
    """Erase what `find` found, except appointments still to come (listed in `kept_upcoming`)."""
    now = now or timezone.now()
    upcoming = set(found.upcoming(now))
    ids = [pk for pk in found.appointment_ids if pk not in upcoming]
    purged = retention.erase(ids, now)
    others = Notification.objects.filter(_recipient(found.term), appointment__structure=found.structure).exclude(
        appointment_id__in=upcoming)
    extra = retention.REGISTRY["notifications"].purge(list(others.values_list("pk", flat=True)))
    if extra:
        purged["notifications"] = purged.get("notifications", 0) + extra
    if found.term.kind == "phone":
        opt_outs = SmsOptOut.objects.filter(structure=found.structure, phone=found.term.value).delete()[0]
        if opt_outs:
            purged["sms_opt_outs"] = opt_outs
    return Erased(appointments=len(ids), kept_upcoming=len(upcoming), purged=purged)
