"""Appointments in the back-office: today's list by default, actions, room link."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin, messages
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from notifications.admin import NotificationInline
from portal import access, booking
from portal.admin.notes import VisitSummaryInline, notes_field
from portal.admin.scoping import ScopedAdmin
from portal.forms import AppointmentForm
from portal.models import Appointment, ChangeRequest, Slot, Status
from portal.phones import display as phone_display


class DayFilter(admin.SimpleListFilter):
    """Today by default, in the agent's zone (portal.middleware activates it)."""

    title = _("day")
    parameter_name = "day"
    DEFAULT = "today"

    def lookups(self, request, model_admin):
        return [
            ("yesterday", _("Yesterday")),
            ("today", _("Today")),
            ("tomorrow", _("Tomorrow")),
            ("week", _("Next 7 days")),
            ("all", _("All")),
        ]

    def value(self):
        return super().value() or self.DEFAULT

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        today = timezone.localdate()
        spans = {"yesterday": (-1, 1), "today": (0, 1), "tomorrow": (1, 1), "week": (0, 7)}
        if self.value() not in spans:
            return queryset
        offset, days = spans[self.value()]
        zone = timezone.get_current_timezone()
        first = dt.datetime.combine(today + dt.timedelta(days=offset), dt.time(), tzinfo=zone)
        last = dt.datetime.combine(today + dt.timedelta(days=offset + days), dt.time(), tzinfo=zone)
        return queryset.filter(start__gte=first, start__lt=last)


class AgentFilter(admin.SimpleListFilter):
    """Agents of the user's own structures only (never names from elsewhere)."""

    title = _("agent")
    parameter_name = "agent"

    def lookups(self, request, model_admin):
        from django.contrib.auth import get_user_model

        users = get_user_model().objects.filter(memberships__role__in=list(access.EDITORS))
        if not request.user.is_superuser:
            users = users.filter(memberships__structure_id__in=access.structure_ids(request.user))
        return [(str(u.pk), u.get_full_name() or u.get_username()) for u in users.distinct().order_by("last_name")]

    def queryset(self, request, queryset):
        return queryset.filter(agent_id=self.value()) if self.value() else queryset


STATUS_COLOURS: dict[str, str] = {
    Status.SCHEDULED: "#000091",
    Status.CANCELLED: "#ce0500",
    Status.DONE: "#18753c",
    Status.NO_SHOW: "#b34000",
}


def _change_action(description: Any, apply: Any, message: Any) -> Any:
    """A bulk action that changes each selected appointment the user may change
    (AppointmentAdmin._apply), then says how many were changed."""

    @admin.action(description=description, permissions=["change"])
    def action(modeladmin: AppointmentAdmin, request: Any, queryset: Any) -> None:
        modeladmin._apply(request, queryset, apply, message)

    return action


@admin.register(Appointment)
class AppointmentAdmin(ScopedAdmin):
    form = AppointmentForm
    list_display = ["local_start", "citizen", "subject", "agent_name", "status_badge", "join_link"]
    list_display_links = ["local_start", "citizen"]
    list_filter = [DayFilter, AgentFilter, "status"]
    list_select_related = ["structure", "agent", "room"]
    search_fields = ["citizen_last_name", "citizen_first_name", "notes__text"]  # the shared notes too
    autocomplete_fields = ["structure", "agent"]
    actions = ["cancel_selected", "mark_done", "mark_no_show", "resend_link"]
    inlines = [NotificationInline, VisitSummaryInline]
    list_per_page = 50
    readonly_fields = ["status_badge", "join_link", "room_password", "open_room_button", "shared_notes",
                       "notes_and_send"]
    fieldsets = [
        (
            _("Citizen"),
            {
                "fields": [
                    "citizen_first_name",
                    "citizen_last_name",
                    "citizen_email",
                    "citizen_phone",
                    "preferred_channel",
                ]
            },
        ),
        (_("Appointment"), {"fields": ["structure", "agent", "start", "duration_minutes", "subject", "confirm_late"]}),
    ]
    room_fieldset = (_("Room"), {"fields": ["status_badge", "join_link", "room_password", "open_room_button"]})

    def get_fieldsets(self, request, obj=None):
        if not obj:
            return self.fieldsets
        # The structure's editors get the notes with the "send the summary" button.
        notes = "notes_and_send" if access.has_role(request.user, access.EDITORS, obj.structure_id) else "shared_notes"
        return [*self.fieldsets, self.room_fieldset, (_("Shared notes"), {"fields": [notes]})]

    @admin.display(description=_("notes"))
    def shared_notes(self, obj: Appointment) -> str:
        return notes_field(obj, send=False)

    @admin.display(description=_("notes"))
    def notes_and_send(self, obj: Appointment) -> str:
        return notes_field(obj, send=True)

    def get_changeform_initial_data(self, request):
        initial: dict[str, Any] = super().get_changeform_initial_data(request)
        editable = access.structure_ids(request.user, access.EDITORS)
        if len(editable) == 1:
            initial.setdefault("structure", next(iter(editable)))
        structure = initial.get("structure")
        if structure is not None and access.roles(request.user).get(structure) == "agent":
            initial.setdefault("agent", request.user.pk)
        return initial

    def save_model(self, request, obj, form, change):
        if change:
            old_start = Appointment.objects.filter(pk=obj.pk).values_list("start", flat=True).first()
            booking.update(obj, previous_start=old_start)
        else:
            booking.book(obj, by=request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # appointments are cancelled, never deleted (the citizen was told)

    # --- columns ---
    @admin.display(description=_("start"), ordering="start")
    def local_start(self, obj: Appointment) -> str:
        local = obj.local_start()
        text = local.strftime("%d/%m/%Y %H:%M")
        if local.utcoffset() != timezone.localtime(obj.start).utcoffset():
            text += f" ({obj.structure.time_zone})"
        return text

    @admin.display(description=_("citizen"), ordering="citizen_last_name")
    def citizen(self, obj: Appointment) -> str:
        region = obj.structure.phone_region_code()
        contact = obj.citizen_email if obj.preferred_channel == "email" else phone_display(obj.citizen_phone, region)
        return format_html("{}<br><small>{}</small>", obj.citizen_full_name, contact)

    @admin.display(description=_("agent"), ordering="agent__last_name")
    def agent_name(self, obj: Appointment) -> str:
        return obj.agent.get_full_name() or obj.agent.get_username()

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Appointment) -> str:
        return format_html(
            '<strong class="gv-status gv-status--{}" style="color:{}">{}</strong>',
            obj.status,
            STATUS_COLOURS.get(obj.status, "#000"),
            obj.get_status_display(),
        )

    @admin.display(description=_("citizen's link"))
    def join_link(self, obj: Appointment) -> str:
        room = getattr(obj, "room", None)
        if room is None:
            return "—"
        return format_html('<a href="{0}" rel="noopener">{0}</a>', room.join_url)

    @admin.display(description=_("room password"))
    def room_password(self, obj: Appointment) -> str:
        room = getattr(obj, "room", None)
        return format_html("<code>{}</code>", room.password) if room else "—"

    @admin.display(description=_("room"))
    def open_room_button(self, obj: Appointment) -> str:
        room = getattr(obj, "room", None)
        if room is None or not room.is_open:
            return str(_("The room is closed."))
        url = reverse("rooms:agent_room", kwargs={"slug": room.slug})
        return format_html('<a class="button default" href="{}">{}</a>', url, _("Open the room"))

    # --- actions (the changelist queryset is already scoped; rights are re-checked per row) ---
    def _apply(self, request, queryset, action, success_message):
        done = 0
        for appointment in queryset.select_related("room"):
            if self.has_change_permission(request, appointment) and action(appointment):
                done += 1
        level = messages.SUCCESS if done else messages.WARNING
        self.message_user(request, success_message(done), level)

    cancel_selected = _change_action(
        _("Cancel the selected appointments"),
        booking.cancel,
        lambda n: ngettext("%(n)d appointment cancelled.", "%(n)d appointments cancelled.", n) % {"n": n},
    )
    mark_done = _change_action(
        _("Mark as done"),
        lambda a: booking.mark(a, Status.DONE),
        lambda n: ngettext("%(n)d appointment marked done.", "%(n)d appointments marked done.", n) % {"n": n},
    )
    mark_no_show = _change_action(
        _("Mark as no-show"),
        lambda a: booking.mark(a, Status.NO_SHOW),
        lambda n: ngettext("%(n)d appointment marked no-show.", "%(n)d appointments marked no-show.", n) % {"n": n},
    )

    @admin.action(description=_("Resend the link and password to the citizen"), permissions=["resend_link"])
    def resend_link(self, request, queryset):
        from notifications.admin import resend_link

        resend_link(self, request, queryset)

    def has_resend_link_permission(self, request, obj=None):
        # Agents and the helpdesk (who cannot change appointments) may resend the link.
        return access.has_role(request.user, access.VIEWERS, None if obj is None else obj.structure_id)

    def get_search_results(self, request, queryset, search_term):
        # Also match "First Last" typed as one phrase.
        results, duplicates = super().get_search_results(request, queryset, search_term)
        parts = search_term.split()
        if len(parts) == 2:
            a, b = parts
            results |= queryset.filter(
                Q(citizen_first_name__icontains=a, citizen_last_name__icontains=b)
                | Q(citizen_first_name__icontains=b, citizen_last_name__icontains=a)
            )
        return results, duplicates


@admin.register(ChangeRequest)
class ChangeRequestAdmin(ScopedAdmin):
    structure_field = "appointment__structure"
    list_display = ["created_at", "appointment", "kind", "slot", "message", "handled"]
    list_filter = ["kind", "handled"]
    list_select_related = ["appointment", "slot"]
    readonly_fields = ["appointment", "kind", "slot", "message", "created_at"]
    fields = ["appointment", "kind", "slot", "message", "created_at", "handled"]

    def has_add_permission(self, request):
        return False  # they come from citizens


@admin.register(Slot)
class SlotAdmin(ScopedAdmin):
    list_display = ["start", "agent", "structure", "taken_by"]
    list_select_related = ["agent", "structure", "taken_by"]
    fields = ["structure", "agent", "start"]
