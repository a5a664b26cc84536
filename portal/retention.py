"""The retention purge: a registry of the kinds of personal data held, each with its delay.

Each `Kind` says which rows of a structure still hold personal data (`pending`), from
which moment its delay runs (`older_than`), which rows belong to given appointments
(`about`, for a citizen's erase, portal/citizendata.py), how a batch of them is deleted or
anonymised (`purge`), and, for people, what it keeps how long (`kept`). A later feature
that stores personal data (shared notes, telephone calls) adds one `register(Kind(...))`.

`run` (beat's `portal.purge` task, `manage.py purge`) first counts the settled appointments
into the statistics (portal/stats/counters.py), then purges each kind, structure by structure,
in batches of RETENTION_BATCH_SIZE rows, one transaction per batch: purged rows no longer
match `pending`, so a second run changes nothing and an interrupted run resumes where it
stopped. `dry_run` counts the same rows without touching them. It logs counts only, never
a name, address or number.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from notifications.backends import DeliveryError, get_backend
from notifications.models import Notification, ShortLink, SmsOptOut, VisitSummary
from portal.models import Appointment, ChangeRequest, Channel, ResetRequest, Structure, UserSession
from portal.stats import counters as statistics
from rooms.models import ChatMessage, IdentityCheck, JoinAttempt, Participant
from rooms.notes.models import NotesDocument
from rooms.phone.models import PhoneCall

log = logging.getLogger("portal.retention")
ANONYMOUS = ""  # what an anonymised text field holds
LONGEST = dt.timedelta(minutes=480)  # Appointment.duration_minutes' maximum


def appointment_retention(structure: Structure | None) -> dt.timedelta:
    return dt.timedelta(days=structure.retention_days if structure else 0)


def address_retention(structure: Structure | None) -> dt.timedelta:
    return dt.timedelta(days=settings.RETENTION_ADDRESS_DAYS)


def idcheck_retention(structure: Structure | None) -> dt.timedelta:
    return dt.timedelta(days=settings.RETENTION_IDCHECK_DAYS)


def sms_provider_retention(structure: Structure | None) -> dt.timedelta:
    return dt.timedelta(days=settings.RETENTION_SMS_PROVIDER_DAYS)


def _ended_before(prefix: str, cutoff: dt.datetime) -> Q:
    """Rows whose appointment ended before `cutoff`, read on the start plus the longest
    duration (8 hours): never early, at most 8 hours late, and a plain indexed comparison."""
    return Q(**{f"{prefix}start__lt": cutoff - LONGEST})


@dataclass(frozen=True)
class Kind:
    name: str
    model: type[models.Model]
    kept: StrOrPromise  # what is kept how long, for people (help texts, `manage.py purge --help`)
    delay: Callable[[Structure | None], dt.timedelta]
    pending: Callable[[Structure | None], QuerySet]  # rows of the structure still holding personal data
    older_than: Callable[[QuerySet, dt.datetime], QuerySet]  # of those, whose delay started before the cutoff
    purge: Callable[[list[int]], int]  # delete or anonymise these rows (pks); the rows changed
    about: Callable[[QuerySet, list[int]], QuerySet] | None = None  # rows of these appointments
    per_structure: bool = True  # False: deployment-wide rows (sessions, sign-in attempts)
    needs_counting: bool = False  # only rows of appointments already in the statistics
    action: str = "deleted"

    def due(self, structure: Structure | None, now: dt.datetime) -> QuerySet:
        rows = self.older_than(self.pending(structure), now - self.delay(structure))
        if self.needs_counting:
            rows = rows.filter(**{f"{self._appointment_path()}counted_at__isnull": False})
        return rows

    def _appointment_path(self) -> str:
        return "" if self.model is Appointment else PATHS[self.model]


REGISTRY: dict[str, Kind] = {}
# How each model reaches its appointment (for the structure and the appointments' dates).
PATHS: dict[type[models.Model], str] = {
    Notification: "appointment__", ShortLink: "appointment__", ChangeRequest: "appointment__",
    IdentityCheck: "appointment__", ChatMessage: "room__appointment__", Participant: "room__appointment__",
    JoinAttempt: "room__appointment__", NotesDocument: "appointment__", VisitSummary: "appointment__",
}


def register(kind: Kind) -> Kind:
    if kind.name in REGISTRY:
        raise ValueError(f"retention kind {kind.name!r} registered twice")
    REGISTRY[kind.name] = kind
    return kind


def _of_structure(model: type[models.Model], condition: Q | None = None) -> Callable[[Structure | None], QuerySet]:
    path = "" if model is Appointment else PATHS[model]

    def pending(structure: Structure | None) -> QuerySet:
        rows = model._default_manager.all()
        if structure is not None:
            rows = rows.filter(**{f"{path}structure": structure})
        return rows.filter(condition) if condition is not None else rows

    return pending


def _ended(model: type[models.Model]) -> Callable[[QuerySet, dt.datetime], QuerySet]:
    path = "" if model is Appointment else PATHS[model]
    return lambda rows, cutoff: rows.filter(_ended_before(path, cutoff))


def _field_before(name: str) -> Callable[[QuerySet, dt.datetime], QuerySet]:
    return lambda rows, cutoff: rows.filter(**{f"{name}__lt": cutoff})


def _of_appointments(model: type[models.Model]) -> Callable[[QuerySet, list[int]], QuerySet]:
    path = "pk" if model is Appointment else f"{PATHS[model]}pk"
    return lambda rows, ids: rows.filter(**{f"{path}__in": ids})


def _delete(model: type[models.Model]) -> Callable[[list[int]], int]:
    """A plain DELETE of the batch, without Django's collector (no row is loaded: flat memory);
    only for models no other model points at (else `_delete_cascading`)."""

    def purge(ids: list[int]) -> int:
        return model._default_manager.filter(pk__in=ids)._raw_delete(
            model._default_manager.db)

    return purge


def _delete_cascading(model: type[models.Model]) -> Callable[[list[int]], int]:
    def purge(ids: list[int]) -> int:
        return model._default_manager.filter(pk__in=ids).delete()[1].get(
            model._meta.label, 0)

    return purge


def _anonymise_log_entries(model: type[models.Model], ids: Iterable[int]) -> None:
    """The admin's history names the object (`object_repr`, "Jeanne Dupont — …") and may
    quote changed values: blanked with the object's personal data."""
    LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(model),
                            object_id__in=[str(pk) for pk in ids]).update(object_repr="—", change_message="")


def _anonymise_appointments(ids: list[int]) -> int:
    _anonymise_log_entries(Appointment, ids)
    return Appointment.objects.filter(pk__in=ids).update(
        citizen_first_name=ANONYMOUS, citizen_last_name=ANONYMOUS, citizen_email=ANONYMOUS, citizen_phone=ANONYMOUS,
        subject=ANONYMOUS, personal_data_purged_at=timezone.now())


def _delete_change_requests(ids: list[int]) -> int:
    _anonymise_log_entries(ChangeRequest, ids)
    return _delete_cascading(ChangeRequest)(ids)


def _anonymise_notifications(ids: list[int]) -> int:
    return Notification.objects.filter(pk__in=ids).update(recipient=ANONYMOUS, last_error=ANONYMOUS)


def _forget_at_provider(ids: list[int]) -> int:
    """Delete the SMS provider's copies one by one (its API deletes one message per call);
    those deleted are marked even when the provider fails midway (then the error goes up:
    the rest is tried again at the next run)."""
    done: list[int] = []
    backend = get_backend(Channel.SMS)
    try:
        for pk, provider_id in Notification.objects.filter(pk__in=ids).values_list("pk", "provider_id"):
            backend.forget(provider_id)
            done.append(pk)
    finally:
        Notification.objects.filter(pk__in=done).update(provider_purged_at=timezone.now())
    return len(done)


register(Kind(
    name="appointments", model=Appointment, action="anonymised", delay=appointment_retention,
    kept=_("Appointments: the citizen's name, phone, email and the subject are erased the structure's retention "
           "(days) after the end; date, duration, agent and status are kept for the statistics."),
    pending=_of_structure(Appointment, Q(personal_data_purged_at=None)), older_than=_ended(Appointment),
    purge=_anonymise_appointments, about=_of_appointments(Appointment), needs_counting=True,
))
register(Kind(
    name="change_requests", model=ChangeRequest, delay=appointment_retention,
    kept=_("Citizens' requests (cancel, another time) and their messages: deleted with the appointment's "
           "personal data."),
    pending=_of_structure(ChangeRequest), older_than=_ended(ChangeRequest), purge=_delete_change_requests,
    about=_of_appointments(ChangeRequest),
))
register(Kind(
    name="notifications", model=Notification, action="anonymised", delay=appointment_retention,
    kept=_("Messages sent: the address and the error text are erased with the appointment's personal data; the "
           "kind, channel, status, dates and SMS segments are kept for the statistics."),
    pending=_of_structure(Notification, ~Q(recipient=ANONYMOUS) | ~Q(last_error=ANONYMOUS)),
    older_than=_ended(Notification), purge=_anonymise_notifications, about=_of_appointments(Notification),
    needs_counting=True,
))
register(Kind(
    name="sms_provider", model=Notification, delay=sms_provider_retention,
    kept=_("Copies of SMS at the provider (Twilio keeps the text and the number): deleted through its API "
           "%(sms_provider_days)d days after sending."),
    pending=_of_structure(Notification, Q(channel=Channel.SMS, provider_purged_at=None) & ~Q(provider_id="")),
    older_than=_field_before("sent_at"), purge=_forget_at_provider, about=_of_appointments(Notification),
))
register(Kind(
    name="short_links", model=ShortLink, delay=appointment_retention,
    kept=_("Short links of SMS: deleted with the appointment's personal data (they stop working at its end)."),
    pending=_of_structure(ShortLink), older_than=_ended(ShortLink), purge=_delete(ShortLink),
    about=_of_appointments(ShortLink),
))
register(Kind(
    name="chat", model=ChatMessage, delay=appointment_retention,
    kept=_("The call's chat: deleted with the appointment's personal data."),
    pending=_of_structure(ChatMessage), older_than=_ended(ChatMessage), purge=_delete(ChatMessage),
    about=_of_appointments(ChatMessage),
))
register(Kind(
    name="notes", model=NotesDocument, delay=appointment_retention,
    kept=_("The call's shared notes: deleted with the appointment's personal data."),
    pending=_of_structure(NotesDocument), older_than=_ended(NotesDocument), purge=_delete_cascading(NotesDocument),
    about=_of_appointments(NotesDocument),
))
register(Kind(
    name="visit_summaries", model=VisitSummary, delay=appointment_retention,
    kept=_("Visit summaries sent to the citizen (the text, who sent it, when): deleted with the appointment's "
           "personal data."),
    pending=_of_structure(VisitSummary), older_than=_ended(VisitSummary), purge=_delete_cascading(VisitSummary),
    about=_of_appointments(VisitSummary),
))
register(Kind(
    name="participants", model=Participant, delay=appointment_retention,
    kept=_("Who was in the call, under which name, and when they were admitted: deleted with the appointment's "
           "personal data (the waiting time is kept in the statistics)."),
    pending=_of_structure(Participant), older_than=_ended(Participant), purge=_delete(Participant),
    about=_of_appointments(Participant), needs_counting=True,
))
register(Kind(
    name="join_attempts", model=JoinAttempt, delay=address_retention,
    kept=_("Room codes typed, with the address they came from: deleted %(address_days)d days after."),
    pending=_of_structure(JoinAttempt), older_than=_field_before("at"), purge=_delete(JoinAttempt),
    about=_of_appointments(JoinAttempt),
))
register(Kind(
    name="identity_checks", model=IdentityCheck, delay=idcheck_retention,
    kept=_("ID-check audit lines (who checked, outcome, last 4 digits of the document): deleted "
           "%(idcheck_days)d days after the check; outcomes are kept in the statistics."),
    pending=_of_structure(IdentityCheck), older_than=_field_before("at"), purge=_delete(IdentityCheck),
    about=_of_appointments(IdentityCheck), needs_counting=True,
))


def _opt_outs(structure: Structure | None) -> QuerySet:
    rows = SmsOptOut.objects.filter(opted_out=False)
    return rows.filter(structure=structure) if structure is not None else rows


register(Kind(
    name="sms_opt_ins", model=SmsOptOut, delay=appointment_retention,
    kept=_("A citizen's START after a STOP: deleted the structure's retention (days) after it. A STOP is kept while "
           "it applies (so that no SMS is sent again), or until the citizen's data is erased."),
    pending=_opt_outs, older_than=_field_before("changed_at"), purge=_delete(SmsOptOut),
))
def _phone_calls(structure: Structure | None) -> QuerySet:
    rows = PhoneCall.objects.all()
    return rows.filter(structure=structure) if structure is not None else rows


register(Kind(
    name="phone_calls", model=PhoneCall, delay=address_retention,
    kept=_("Telephone calls (Twilio's call id, the number's last two digits, the room, wrong codes typed): deleted "
           "%(address_days)d days after the call; nothing of the audio is ever stored."),
    pending=_phone_calls, older_than=_field_before("created_at"), purge=_delete(PhoneCall),
))


def _sign_in_sessions(structure: Structure | None) -> QuerySet:
    return UserSession.objects.exclude(address=ANONYMOUS)


def _forget_session_addresses(ids: list[int]) -> int:
    return UserSession.objects.filter(pk__in=ids).update(address=ANONYMOUS)


register(Kind(
    name="session_addresses", model=UserSession, action="anonymised", delay=address_retention, per_structure=False,
    kept=_("Staff members' open sessions: the address they signed in from is erased %(address_days)d days after; "
           "the session itself ends with its expiry or when closed."),
    pending=_sign_in_sessions, older_than=_field_before("created_at"), purge=_forget_session_addresses,
))
register(Kind(
    name="reset_requests", model=ResetRequest, delay=address_retention, per_structure=False,
    kept=_("Password reset requests (the address asked from, a digest of the email): deleted %(address_days)d days "
           "after."),
    pending=lambda structure: ResetRequest.objects.all(), older_than=_field_before("at"), purge=_delete(ResetRequest),
))
register(Kind(
    name="sessions", model=Session, delay=lambda structure: dt.timedelta(0), per_structure=False,
    kept=_("Browser sessions: deleted once expired."),
    pending=lambda structure: Session.objects.all(), older_than=_field_before("expire_date"),
    purge=_delete(Session),
))


def _axes_pending(structure: Structure | None) -> QuerySet:
    return AccessLog.objects.all()


def _axes_older(rows: QuerySet, cutoff: dt.datetime) -> QuerySet:
    return rows.filter(attempt_time__lt=cutoff)


def _axes_purge(ids: list[int]) -> int:
    return AccessLog.objects.filter(pk__in=ids).delete()[0]


def _axes_attempts_and_failures(now: dt.datetime, dry_run: bool) -> int:
    """Sign-in attempts and failures (django-axes), by address: the locks last minutes."""
    cutoff = now - address_retention(None)
    rows = [AccessAttempt.objects.filter(attempt_time__lt=cutoff),
            AccessFailureLog.objects.filter(attempt_time__lt=cutoff)]
    return sum(r.count() for r in rows) if dry_run else sum(r.delete()[0] for r in rows)


register(Kind(
    name="sign_in_addresses", model=AccessLog, delay=address_retention, per_structure=False,
    kept=_("Back-office sign-in attempts, with their address: deleted %(address_days)d days after."),
    pending=_axes_pending, older_than=_axes_older, purge=_axes_purge,
))


@dataclass
class Result:
    dry_run: bool
    counted: int = 0  # appointments added to the statistics
    purged: dict[str, int] = field(default_factory=dict)  # kind -> rows deleted or anonymised
    deferred: dict[str, str] = field(default_factory=dict)  # kind -> why it stopped (provider down): next run

    def add(self, kind: str, n: int) -> None:
        if n:
            self.purged[kind] = self.purged.get(kind, 0) + n


def _kinds(names: Iterable[str] | None) -> list[Kind]:
    if names is None:
        return list(REGISTRY.values())
    unknown = set(names) - set(REGISTRY)
    if unknown:
        raise ValueError(f"unknown kind(s) of data: {', '.join(sorted(unknown))}; known: {', '.join(REGISTRY)}")
    return [REGISTRY[name] for name in names]


Progress = Callable[[str, int], None]  # (kind, rows purged so far), after each batch


def _purge_rows(kind: Kind, rows: QuerySet, batch_size: int, max_batches: int | None,
                progress: Progress | None = None) -> tuple[int, int]:
    """Purge `rows` in batches; returns (rows purged, batches run)."""
    purged = batches = 0
    last = None
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            # Keyset: each batch starts after the last one (walking the primary key), not
            # again from the first row past rows already anonymised (quadratic on a big table).
            page = rows if last is None else rows.filter(pk__gt=last)
            ids = list(page.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            purged += kind.purge(ids)
            last = ids[-1]
        batches += 1
        if progress is not None:
            progress(kind.name, purged)
    return purged, batches


def run(now: dt.datetime | None = None, *, dry_run: bool = False, kinds: Iterable[str] | None = None,
        structures: Iterable[Structure] | None = None, batch_size: int | None = None,
        max_batches: int | None = None, progress: Progress | None = None) -> Result:
    """Count settled appointments, then purge every kind past its delay (see the module's
    docstring). `max_batches` stops after that many batches per kind and structure (a run
    cut short, as by a worker's time limit)."""
    now = now or timezone.now()
    size = batch_size or settings.RETENTION_BATCH_SIZE
    selected = _kinds(kinds)
    result = Result(dry_run=dry_run)
    for structure in structures if structures is not None else Structure.objects.order_by("pk"):
        if dry_run:
            result.counted += statistics.pending_settled(structure, now)
        else:
            result.counted += statistics.count_settled(structure, now, size)
        for kind in selected:
            if kind.per_structure:
                _run_kind(kind, structure, now, dry_run, size, max_batches, result, progress)
    for kind in selected:
        if not kind.per_structure:
            _run_kind(kind, None, now, dry_run, size, max_batches, result, progress)
    if "sign_in_addresses" in {kind.name for kind in selected}:
        result.add("sign_in_addresses", _axes_attempts_and_failures(now, dry_run))
    summary = ", ".join(f"{name} {n}" for name, n in result.purged.items()) or "nothing"
    if result.deferred:
        summary += "; deferred: " + ", ".join(result.deferred)
    log.info("retention purge%s: %d appointment(s) counted in the statistics; %s %s",
             " (dry run)" if dry_run else "", result.counted, "would purge" if dry_run else "purged", summary)
    return result


def _run_kind(kind: Kind, structure: Structure | None, now: dt.datetime, dry_run: bool, size: int,
              max_batches: int | None, result: Result, progress: Progress | None) -> None:
    rows = kind.due(structure, now)
    if dry_run:
        # The appointments a real run would count first are purgeable too.
        if kind.needs_counting and structure is not None:
            rows = kind.older_than(kind.pending(structure), now - kind.delay(structure)).filter(
                Q(**{f"{kind._appointment_path()}counted_at__isnull": False})
                | Q(**{f"{kind._appointment_path()}start__lt": statistics.settled_before(now)}))
        result.add(kind.name, rows.count())
        return
    if kind.name in result.deferred:
        return  # the provider failed for an earlier structure in this run
    try:
        purged, _batches = _purge_rows(kind, rows, size, max_batches, progress)
    except DeliveryError as error:
        # The SMS provider is down or refuses: the other kinds go on, this one resumes next run.
        result.deferred[kind.name] = str(error)
        log.warning("retention purge: %s deferred to the next run: %s", kind.name, error)
        return
    result.add(kind.name, purged)


def erase(appointment_ids: list[int], now: dt.datetime | None = None) -> dict[str, int]:
    """A citizen's erase (portal/citizendata.py): count these appointments into the
    statistics now, then purge every kind's rows about them, whatever the delays."""
    now = now or timezone.now()
    done: dict[str, int] = {}
    by_structure: dict[int, list[int]] = {}
    for pk, structure_id in Appointment.objects.filter(pk__in=appointment_ids).values_list("pk", "structure_id"):
        by_structure.setdefault(structure_id, []).append(pk)
    for structure in Structure.objects.filter(pk__in=by_structure):
        statistics.count(structure, Q(pk__in=by_structure[structure.pk]), now)
    for kind in REGISTRY.values():
        if kind.about is None:
            continue
        purged, _ = _purge_rows(kind, kind.about(kind.pending(None), appointment_ids),
                                settings.RETENTION_BATCH_SIZE, None)
        if purged:
            done[kind.name] = purged
    return done


def kept_how_long() -> list[tuple[str, str]]:
    """(kind, what is kept how long) for help texts, with the deployment's delays filled in."""
    values = {"sms_provider_days": settings.RETENTION_SMS_PROVIDER_DAYS,
              "address_days": settings.RETENTION_ADDRESS_DAYS, "idcheck_days": settings.RETENTION_IDCHECK_DAYS}
    return [(kind.name, str(kind.kept) % values) for kind in REGISTRY.values()]
