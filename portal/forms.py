"""The agent's appointment form: start typed in the structure's own time zone."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.admin import widgets
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.models import Appointment
from portal.timezones import local_to_utc, utc_to_local


class WallClockField(forms.SplitDateTimeField):
    """A date and a time as typed, without applying the request's time zone: the form
    localises it in the chosen structure's zone (which may differ from the agent's)."""

    def compress(self, data_list):
        if not data_list:
            return None
        if data_list[0] in self.empty_values or data_list[1] in self.empty_values:
            raise ValidationError(self.error_messages["invalid_date"], code="invalid_date")
        return dt.datetime.combine(*data_list)


class AppointmentForm(forms.ModelForm):
    start = WallClockField(
        label=_("start"), widget=widgets.AdminSplitDateTime, help_text=_("In the structure's local time.")
    )
    confirm_late = forms.BooleanField(
        label=_("Book anyway (the start time has passed)"),
        required=False,
        help_text=_("The citizen receives the link and code at once, valid until the end of the appointment."),
    )

    class Meta:
        model = Appointment
        fields = [
            "structure",
            "agent",
            "citizen_first_name",
            "citizen_last_name",
            "citizen_email",
            "citizen_phone",
            "preferred_channel",
            "start",
            "duration_minutes",
            "subject",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["start"] = utc_to_local(self.instance.start, self.instance.structure.time_zone)

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        local, structure = cleaned.get("start"), cleaned.get("structure")
        if local is not None and structure is not None:
            try:
                cleaned["start"] = local_to_utc(local, structure.time_zone)
            except ValidationError as error:
                self.add_error("start", error)
            else:
                self._check_late(cleaned["start"], cleaned.get("duration_minutes"), structure.time_zone)
        return cleaned

    def _check_late(self, start: dt.datetime, duration: int | None, zone_name: str) -> None:
        """A start already past: refused when the appointment would be over, else booked
        only once the agent confirms (the link and code then go at once: notifications)."""
        if self.instance.pk and start == self.instance.start:
            return  # editing the details of an appointment that has begun
        now = timezone.now()
        if start > now:
            return
        end = start + dt.timedelta(minutes=duration or 0)
        times = {"start": utc_to_local(start, zone_name).strftime("%H:%M"),
                 "end": utc_to_local(end, zone_name).strftime("%H:%M"), "zone": zone_name}
        if now >= end:
            self.add_error("start", ValidationError(
                _("This appointment would already be over (it ends at %(end)s, %(zone)s time): choose a time to come."),
                code="over", params=times))
        elif not self.cleaned_data.get("confirm_late"):
            self.add_error("confirm_late", ValidationError(
                _("This appointment starts at %(start)s (%(zone)s time), which has passed. Tick “Book anyway” to "
                  "send the citizen the link and code at once (valid until %(end)s)."),
                code="late", params=times))
