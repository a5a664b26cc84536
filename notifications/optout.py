"""SMS opt-out: STOP/ARRET and START per phone number and structure.

Recorded from the citizen's reply (Twilio's inbound-SMS webhook, views.twilio_inbound)
and from Twilio refusing a send because the number unsubscribed (error 21610). While a
number is opted out of a structure's SMS, that structure's messages go by email (or not
at all when no email was given); START lifts it.

Which structure a reply is about: every structure whose appointments carry that number
(all send from the deployment's one Twilio number, so a STOP to it refuses them all).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from django.db import transaction

from notifications.models import SmsOptOut
from portal.models import Appointment

# Twilio's standard keywords (whole message, case-insensitive), and their French forms.
STOP_WORDS = {"STOP", "STOPALL", "ARRET", "ARRETER", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "DESINSCRIRE"}
START_WORDS = {"START", "UNSTOP", "YES", "OUI", "DEMARRER", "REPRENDRE"}


def keyword(body: str) -> str | None:
    """'stop', 'start' or None: the message is the keyword alone, give or take case,
    accents, spaces and final punctuation ("Arrêt.", " stop ")."""
    folded = unicodedata.normalize("NFKD", body)
    word = "".join(ch for ch in folded if not unicodedata.combining(ch)).strip().rstrip(".!").strip().upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    return None


def structures_for(phone: str) -> set[int]:
    return set(Appointment.objects.filter(citizen_phone=phone).values_list("structure_id", flat=True))


@transaction.atomic
def record(phone: str, structure_ids: Iterable[int], opted_out: bool, word: str, source: str) -> int:
    """Record the choice for each structure; returns how many were recorded."""
    count = 0
    for structure_id in structure_ids:
        SmsOptOut.objects.update_or_create(
            phone=phone, structure_id=structure_id,
            defaults={"opted_out": opted_out, "keyword": word[:32], "source": source},
        )  # fmt: skip
        count += 1
    return count


def opted_out(pairs: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
    """Which (phone, structure id) pairs are opted out, in one query."""
    pairs = {(phone, sid) for phone, sid in pairs if phone}
    if not pairs:
        return set()
    rows = SmsOptOut.objects.filter(
        opted_out=True, phone__in={p for p, _ in pairs}, structure_id__in={s for _, s in pairs}
    ).values_list("phone", "structure_id")
    return set(rows) & pairs


def is_opted_out(appointment: Appointment) -> bool:
    return bool(opted_out([(appointment.citizen_phone, appointment.structure_id)]))
