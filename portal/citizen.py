"""The citizen's own link in the confirmation and day-before messages: cancel or ask to move
(and, with the same token, test the devices: portal/devicetest.py).

The link carries a signed token naming the appointment and a fingerprint of its citizen;
it works until the start, cancelling only up to the structure's deadline.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from portal import booking
from portal.models import Appointment, ChangeRequest, Channel, Slot, Status
from portal.phones import display as phone_display
from rooms.journey import announce
from rooms.tokens import fingerprint_matches, fingerprint_payload

SALT = "guichet.portal.manage-link"


def make_token(appointment: Appointment, channel: str | None = None) -> str:
    # Deterministic, like the personal link: the same message always renders the same text.
    # `channel`: bound to the address it is sent to (rooms/tokens.py).
    return signing.Signer(salt=SALT).sign_object({"a": appointment.pk, **fingerprint_payload(appointment, channel)},
                                                 compress=True)


def manage_url(appointment: Appointment, channel: str | None = None) -> str:
    return settings.SITE_URL + reverse("manage_appointment", kwargs={"token": make_token(appointment, channel)})


def test_url(appointment: Appointment, channel: str | None = None) -> str:
    """The device test page (portal/devicetest.py), with the same token."""
    return settings.SITE_URL + reverse("device_test", kwargs={"token": make_token(appointment, channel)})


def summary_url(appointment: Appointment, channel: str | None = None) -> str:
    """The visit summary's page (portal/summary.py), with the same token."""
    return settings.SITE_URL + reverse("visit_summary", kwargs={"token": make_token(appointment, channel)})


def appointment_of(token: str) -> Appointment | None:
    try:
        payload = signing.Signer(salt=SALT).unsign_object(token)
    except signing.BadSignature:
        return None
    pk = payload.get("a") if isinstance(payload, dict) else None
    appointment = (
        Appointment.objects.select_related("structure", "room").filter(pk=pk).first() if isinstance(pk, int) else None
    )
    if appointment is None or not fingerprint_matches(payload, appointment):
        return None
    return appointment


def requests_left(appointment: Appointment) -> int:
    """How many more requests for another time this link may send today (a link is one
    citizen's: 20 requests from it flood the agent, CITIZEN_MAX_CHANGE_REQUESTS a day)."""
    since = timezone.now() - dt.timedelta(days=1)
    sent = ChangeRequest.objects.filter(appointment=appointment, kind=ChangeRequest.Kind.MOVE,
                                        created_at__gte=since).count()
    return max(0, settings.CITIZEN_MAX_CHANGE_REQUESTS - sent)


def cancel_deadline(appointment: Appointment) -> dt.datetime:
    return appointment.start - dt.timedelta(hours=appointment.structure.citizen_cancel_hours)


class ChannelForm(forms.Form):
    channel = forms.ChoiceField(choices=Channel.choices, widget=forms.RadioSelect,
                                label=_("Receive the next messages by"))


class SlotChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Slot) -> str:
        return obj.start.astimezone(timezone.get_current_timezone()).strftime("%d/%m/%Y %H:%M")


class MoveForm(forms.Form):
    slot = SlotChoiceField(queryset=Slot.objects.none(), required=False, empty_label=None,
                                  widget=forms.RadioSelect, label=_("A free time"))
    message = forms.CharField(required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
                              label=_("Or tell us when you are available"))

    def __init__(self, *args, appointment: Appointment, **kwargs):
        super().__init__(*args, **kwargs)
        slot = self.fields["slot"]
        assert isinstance(slot, forms.ModelChoiceField)
        slot.queryset = Slot.objects.filter(
            structure=appointment.structure, agent=appointment.agent, taken_by=None, start__gt=timezone.now()
        )

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if not cleaned.get("slot") and not cleaned.get("message", "").strip():
            raise forms.ValidationError(_("Choose a time or write when you are available."))
        return cleaned


@never_cache  # ended, then reopened: never a stale 410 (rooms.views.join)
def manage(request: HttpRequest, token: str) -> HttpResponse:
    appointment = appointment_of(token)
    if appointment is None:
        return render(request, "portal/manage.html", {"invalid": True}, status=404)
    timezone.activate(appointment.structure.time_zone)
    now = timezone.now()
    context = {
        "appointment": appointment, "structure": appointment.structure,
        "helpdesk_phone_display": phone_display(
            appointment.structure.helpdesk_phone, appointment.structure.phone_region_code()
        ),
        "can_cancel": appointment.status == Status.SCHEDULED and now < cancel_deadline(appointment),
        "can_move": appointment.status == Status.SCHEDULED and now < appointment.start,
        "deadline": cancel_deadline(appointment), "done": None, "too_many": False,
    }
    context["too_many"] = context["can_move"] and not requests_left(appointment)
    if appointment.status in (Status.DONE, Status.NO_SHOW):  # ended: nothing left to cancel or move
        return render(request, "portal/manage.html", {**context, "ended": True}, status=410)
    form = MoveForm(request.POST if request.POST.get("action") == "move" else None, appointment=appointment)
    # Email or SMS for the remaining messages: offered when the citizen gave both.
    can_choose = context["can_move"] and bool(appointment.citizen_email and appointment.citizen_phone)
    channel_form = ChannelForm(request.POST if request.POST.get("action") == "channel" else None,
                               initial={"channel": appointment.preferred_channel})
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "channel" and can_choose and channel_form.is_valid():
            context["channel_saved"] = booking.choose_channel(appointment, channel_form.cleaned_data["channel"])
        elif action == "cancel" and context["can_cancel"]:
            with transaction.atomic():
                if booking.cancel(appointment):
                    ChangeRequest.objects.create(appointment=appointment, kind=ChangeRequest.Kind.CANCEL, handled=True)
                    announce(appointment.room, "cancelled")
            context.update(done="cancelled", can_cancel=False, can_move=False)
        elif action == "move" and context["can_move"] and form.is_valid():
            with transaction.atomic():
                # Counted under the appointment's row lock: parallel posts cannot pass the limit together.
                Appointment.objects.select_for_update().filter(pk=appointment.pk).first()
                if not requests_left(appointment):
                    context["too_many"] = True
                    context["form"] = form
                    return render(request, "portal/manage.html", context, status=429)
                change = ChangeRequest.objects.create(
                    appointment=appointment, kind=ChangeRequest.Kind.MOVE,
                    message=form.cleaned_data["message"].strip(), slot=form.cleaned_data["slot"])
                slot = form.cleaned_data["slot"]
                if slot is not None and not Slot.objects.filter(pk=slot.pk, taken_by=None).update(taken_by=change):
                    transaction.set_rollback(True)  # someone took it a moment ago
                    form.add_error("slot", _("This time was just taken. Please choose another."))
                else:
                    announce(appointment.room, "change_requested")
                    context["done"] = "moved"
    context.update(form=form, channel_form=channel_form, can_choose=can_choose and context["done"] is None)
    return render(request, "portal/manage.html", context)
