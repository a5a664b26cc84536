"""The agent's appointment form: start typed in the structure's own time zone."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.admin import widgets
from django.core.exceptions import ValidationError
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
        return cleaned
