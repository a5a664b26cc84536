"""Structures (a mairie, a France Services space) and who works in them, with which role."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal import phones

TIME_ZONE_CHOICES = sorted(
    (name, name)
    for name in zoneinfo.available_timezones()
    if name.startswith(("Europe/", "America/", "Indian/", "Pacific/"))
)


class Structure(models.Model):
    name = models.CharField(_("name"), max_length=200)
    address = models.TextField(_("address"), blank=True)
    helpdesk_phone = models.CharField(_("helpdesk phone"), max_length=20, blank=True)
    helpdesk_email = models.EmailField(_("helpdesk email"), blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, choices=TIME_ZONE_CHOICES, default="Europe/Paris")
    phone_region = models.CharField(
        _("territory (phone numbers)"),
        max_length=2,
        choices=phones.TERRITORY_CHOICES,
        blank=True,
        help_text=_("National numbers typed by agents are read in this territory; empty: from the time zone."),
    )
    retention_days = models.PositiveIntegerField(
        _("data retention (days)"),
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("Days after the end of an appointment after which the citizen's name, phone number, email "
                    "address and subject are erased from it, with their requests' messages, the call's chat and "
                    "participant names, and the addresses and errors of the messages sent. The statistics (counts "
                    "without names) are kept. Addresses of join attempts, ID-check lines and the SMS provider's "
                    "copies have their own, shorter delays: see \"What is kept how long\" below."),
    )
    reminder_minutes = models.PositiveSmallIntegerField(
        _("reminder (minutes before)"),
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text=_("The citizen receives the room link and password this many minutes before the start."),
    )
    day_before_message = models.BooleanField(
        _("message the day before"),
        default=True,
        help_text=_("The day before, the citizen receives a link to test camera, microphone and connection."),
    )
    day_before_time = models.TimeField(
        _("day-before message time"),
        default=dt.time(10, 0),
        help_text=_("Local time (in the structure's time zone) at which the day-before message goes, on the eve."),
    )
    email_sender_name = models.CharField(
        _("email sender name"),
        max_length=100,
        blank=True,
        help_text=_("Shown as the sender of emails (the address stays the platform's); empty: the structure's name. "
                    "Replies go to the helpdesk email."),
    )
    sms_sender_id = models.CharField(
        _("SMS sender name"),
        max_length=11,
        blank=True,
        validators=[RegexValidator(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$",
                                   _("1 to 11 letters, digits or spaces, with at least one letter."))],
        help_text=_("Shown instead of the platform's number on SMS to metropolitan mobiles, where the operator allows "
                    "it (registered with the SMS provider). Citizens cannot reply to it, not even STOP: leave empty to "
                    "keep a number. Overseas numbers always get the number."),
    )
    voice_number = models.CharField(
        _("phone number for joining by telephone"),
        max_length=20,
        blank=True,
        help_text=_("The Twilio number citizens call to join with the room code (international format, +33…); "
                    "empty: no joining by telephone. Its voice webhook is set in Twilio (README, Telephone)."),
    )
    voice_dial_out = models.BooleanField(
        _("agents may call the citizen into the room"),
        default=False,
        help_text=_("The room's \"Call the citizen\" button places a Twilio call from the number above."),
    )
    citizen_cancel_hours = models.PositiveSmallIntegerField(
        _("online cancellation until (hours before)"),
        default=2,
        validators=[MaxValueValidator(24 * 14)],
        help_text=_("Citizens may cancel from their message up to this many hours before the start."),
    )

    helpdesk_second_factor = models.BooleanField(
        _("second factor for helpdesk accounts"),
        default=True,
        help_text=_("Agents and managers, who see identity checks, always sign in with a second factor; "
                    "this only lets the structure's helpdesk accounts sign in without one."),
    )

    class Meta:
        verbose_name = _("structure")
        verbose_name_plural = _("structures")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def phone_region_code(self) -> str:
        """The phonenumbers region national numbers are read in: chosen, or from the time zone."""
        return self.phone_region or phones.region_for_time_zone(self.time_zone)

    def clean(self) -> None:
        if self.helpdesk_phone:
            try:
                self.helpdesk_phone = phones.to_e164(self.helpdesk_phone, self.phone_region_code())
            except ValidationError as error:
                raise ValidationError({"helpdesk_phone": error}) from None
        if self.voice_number:
            try:
                self.voice_number = phones.to_e164(self.voice_number, self.phone_region_code())
            except ValidationError as error:
                raise ValidationError({"voice_number": error}) from None


class Role(models.TextChoices):
    AGENT = "agent", _("agent")
    MANAGER = "manager", _("manager")
    HELPDESK = "helpdesk", _("helpdesk")


class Membership(models.Model):
    """A user's role in one structure. Rights come only from memberships (or superuser)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    structure = models.ForeignKey(
        Structure, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("structure")
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.AGENT)
    # A deactivated member keeps their history (appointments, audit lines) and has no rights.
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "structure"], name="one_role_per_structure")]

    def __str__(self) -> str:
        return f"{self.user} — {self.structure} ({self.get_role_display()})"
