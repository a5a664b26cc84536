"""One Notification row per message sent (or to send) to a citizen.

The row is written before anything is sent: it is the schedule (`due_at`), the claim
(`claim_token`/`claimed_at`, taken by a conditional UPDATE) and the audit trail shown to
agents. See notifications/delivery.py for the life cycle.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.models import Appointment, Channel, Structure


class Kind(models.TextChoices):
    CONFIRMATION = "confirmation", _("confirmation")
    REMINDER = "reminder", _("reminder")
    DAY_BEFORE = "day_before", _("day-before message")
    RESCHEDULED = "rescheduled", _("new time")
    CANCELLED = "cancelled", _("cancellation")
    SUMMARY = "summary", _("visit summary")  # notifications/summary.py


class State(models.TextChoices):
    QUEUED = "queued", _("queued")
    SENT = "sent", _("sent")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")
    VOIDED = "voided", _("not sent (no longer needed)")


class ShortLink(models.Model):
    """A short address for an SMS (/j/<code>) standing for one long link of one appointment
    (notifications/shortlinks.py): the code is random (62^10), the target is stored, and it
    resolves only while the appointment lasts."""

    code = models.CharField(_("code"), max_length=16, unique=True)
    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="short_links", verbose_name=_("appointment")
    )
    target = models.CharField(_("target"), max_length=2000)
    # Resolves until then instead of the room's closing (the visit summary's page).
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("short link")
        verbose_name_plural = _("short links")
        # One code per long link: the same message renders the same text every time (the
        # SMS reconciliation after a timeout compares bodies).
        constraints = [models.UniqueConstraint(fields=["appointment", "target"], name="one_short_link_per_target")]

    def __str__(self) -> str:
        return self.code


class Notification(models.Model):
    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("appointment")
    )
    kind = models.CharField(_("message"), max_length=16, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=12, choices=State.choices, default=State.QUEUED)
    language = models.CharField(_("language"), max_length=8, default=settings.LANGUAGE_CODE)
    # When to send; a temporary failure moves it to the next attempt.
    due_at = models.DateTimeField(_("due at"))
    # Last time a task was queued for it (the sweep re-queues rows whose task never ran).
    dispatched_at = models.DateTimeField(null=True, blank=True, editable=False)
    claim_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    first_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A previous attempt may have reached the provider (worker killed, timeout): ask the
    # provider before sending again.
    outcome_unknown = models.BooleanField(default=False, editable=False)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    recipient = models.CharField(_("recipient"), max_length=254, blank=True)
    provider_id = models.CharField(_("provider message id"), max_length=998, blank=True, db_index=True)
    last_error = models.TextField(_("last error"), blank=True)
    # What went wrong, for people (notifications/problems.py): '' when nothing did.
    problem = models.CharField(_("problem"), max_length=32, blank=True, default="")
    fallback_of = models.OneToOneField(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="fallback",
        verbose_name=_("fallback of"),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Retention and statistics (portal/retention.py, portal/stats/counters.py): the SMS segments
    # billed, and when the provider's copy (Twilio's message record, with body and number)
    # was deleted.
    segments = models.PositiveSmallIntegerField(_("SMS segments"), default=0)
    provider_purged_at = models.DateTimeField(_("deleted at the provider"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "due_at"], name="notif_status_due")]
        constraints = [
            # At most one pending automatic reminder (and day-before message) per appointment:
            # a reschedule voids the old one before planning the new one, so a race cannot
            # leave two.
            models.UniqueConstraint(
                fields=["appointment", "kind"],
                condition=Q(kind__in=["reminder", "day_before"], status="queued", requested_by__isnull=True),
                name="one_pending_planned_message",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_channel_display()}) — {self.get_status_display()}"

    def explanation(self) -> str:
        """The problem in words an agent can act on ('' when there is none)."""
        from notifications.problems import explain

        return explain(self.problem)


class SmsOptOut(models.Model):
    """A citizen's STOP (or START) to a structure's SMS, per phone number (E.164): while
    `opted_out`, that structure's messages to that number go by email only."""

    phone = models.CharField(_("phone number"), max_length=32)
    structure = models.ForeignKey(Structure, on_delete=models.CASCADE, related_name="+", verbose_name=_("structure"))
    opted_out = models.BooleanField(_("SMS refused"), default=True)
    keyword = models.CharField(_("last keyword"), max_length=32, blank=True)
    source = models.CharField(_("source"), max_length=16, blank=True)  # "inbound sms", "provider"
    changed_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("SMS opt-out")
        verbose_name_plural = _("SMS opt-outs")
        constraints = [models.UniqueConstraint(fields=["phone", "structure"], name="one_opt_out_per_number")]

    def __str__(self) -> str:
        return f"{self.phone} — {self.structure_id}: {'STOP' if self.opted_out else 'START'}"


class VisitSummary(models.Model):
    """A visit summary ("compte rendu") as sent to the citizen: the notes' text at that moment,
    who sent it, when and how (the audit). The citizen's page and PDF show the latest one until
    `notifications.summary.available_until`. Personal data: purged with the appointment's
    retention (issue 18)."""

    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="visit_summaries", verbose_name=_("appointment")
    )
    text = models.TextField(_("summary"))
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("sent by"),
    )
    sent_by_name = models.CharField(_("sent by (name)"), max_length=150)  # kept if the account goes
    sent_at = models.DateTimeField(_("sent at"))
    notification = models.OneToOneField(
        Notification, on_delete=models.SET_NULL, null=True, blank=True, related_name="visit_summary",
        verbose_name=_("message"),
    )

    class Meta:
        verbose_name = _("visit summary")
        verbose_name_plural = _("visit summaries")
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"{self.appointment_id} {self.sent_at:%Y-%m-%d %H:%M} {self.sent_by_name}"
