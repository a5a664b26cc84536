"""An appointment between an agent and a citizen, at a UTC instant."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal import phones
from portal.models.structures import Structure


class Channel(models.TextChoices):
    EMAIL = "email", _("email")
    SMS = "sms", _("SMS")


class Status(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    CANCELLED = "cancelled", _("cancelled")
    DONE = "done", _("done")
    NO_SHOW = "no_show", _("no-show")


class Appointment(models.Model):
    structure = models.ForeignKey(
        Structure, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("structure")
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="appointments",
        verbose_name=_("agent"),
    )
    citizen_first_name = models.CharField(_("citizen's first name"), max_length=100)
    citizen_last_name = models.CharField(_("citizen's last name"), max_length=100)
    citizen_email = models.EmailField(_("citizen's email"), blank=True)
    citizen_phone = models.CharField(
        _("citizen's mobile"),
        max_length=20,
        blank=True,
        help_text=_("French numbers may be typed as 06 12 34 56 78."),
    )
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=8, choices=Channel.choices, default=Channel.EMAIL
    )
    start = models.DateTimeField(_("start"), db_index=True)
    duration_minutes = models.PositiveSmallIntegerField(
        _("duration (minutes)"), default=30, validators=[MinValueValidator(5), MaxValueValidator(480)]
    )
    subject = models.CharField(_("subject"), max_length=200)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.SCHEDULED, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Statistics and retention (portal/stats/counters.py, portal/retention.py): how many times the
    # start was moved; when the appointment was added to the structure's weekly counters (once,
    # after it ended); when its citizen's personal fields were anonymised.
    moves = models.PositiveSmallIntegerField(_("times moved"), default=0, editable=False)
    counted_at = models.DateTimeField(_("counted in statistics at"), null=True, blank=True, editable=False)
    personal_data_purged_at = models.DateTimeField(
        _("personal data purged at"), null=True, blank=True, editable=False, db_index=True
    )

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["start"]
        indexes = [models.Index(fields=["structure", "start"]), models.Index(fields=["agent", "start"])]

    def __str__(self) -> str:
        return f"{self.citizen_full_name} — {self.subject}"

    @property
    def citizen_full_name(self) -> str:
        return f"{self.citizen_first_name} {self.citizen_last_name}".strip()

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(minutes=self.duration_minutes)

    def local_start(self) -> dt.datetime:
        """The start in the structure's own zone (what the citizen and agent read)."""
        from portal.timezones import zone

        return self.start.astimezone(zone(self.structure.time_zone))

    def clean(self) -> None:
        errors: dict[str, list] = {}
        if self.citizen_phone:
            try:
                region = self.structure.phone_region_code() if self.structure_id else None
                self.citizen_phone = phones.to_e164(self.citizen_phone, region, mobile=True)
            except ValidationError as error:
                errors.setdefault("citizen_phone", []).append(error)
        if self.preferred_channel == Channel.EMAIL and not self.citizen_email:
            errors.setdefault("citizen_email", []).append(
                ValidationError(_("An email address is needed to notify by email."), code="email_required")
            )
        if self.preferred_channel == Channel.SMS and not self.citizen_phone and "citizen_phone" not in errors:
            errors.setdefault("citizen_phone", []).append(
                ValidationError(_("A mobile number is needed to notify by SMS."), code="phone_required")
            )
        if self.agent_id and self.structure_id:
            from portal.access import is_member

            if not is_member(self.agent_id, self.structure_id):
                errors.setdefault("agent", []).append(
                    ValidationError(_("This agent does not work in this structure."), code="agent_outside")
                )
        if errors:
            raise ValidationError(errors)
