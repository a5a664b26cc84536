"""The shared notes in the back-office (issue 17): the structure's templates (managers),
the notes and the visit summaries' audit on each appointment (agents of the structure)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, linebreaks
from django.utils.translation import gettext_lazy as _

from notifications.models import VisitSummary
from portal import access
from portal.admin.scoping import ScopedAdmin
from portal.models import Appointment, Role
from rooms.notes.models import NotesTemplate

if TYPE_CHECKING:
    _Inline = admin.TabularInline[VisitSummary, Appointment]
else:
    _Inline = admin.TabularInline


@admin.register(NotesTemplate)
class NotesTemplateAdmin(ScopedAdmin):
    edit_roles = frozenset({Role.MANAGER})
    list_display = ["__str__", "structure", "updated_at"]
    list_filter = ["structure"]
    search_fields = ["subject", "text"]
    fields = ["structure", "subject", "text"]


class VisitSummaryInline(_Inline):
    """Who sent the summary, when, by which channel, with what outcome (read-only)."""

    model = VisitSummary
    fk_name = "appointment"
    extra = 0
    can_delete = False
    verbose_name_plural = _("visit summaries sent")
    fields = ("sent_at", "sent_by_name", "channel", "outcome", "text")
    readonly_fields = fields
    ordering = ["-sent_at", "-id"]

    @admin.display(description=_("channel"))
    def channel(self, summary: VisitSummary) -> str:
        return summary.notification.get_channel_display() if summary.notification else "—"

    @admin.display(description=_("status"))
    def outcome(self, summary: VisitSummary) -> str:
        return summary.notification.get_status_display() if summary.notification else "—"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if request.method == "POST":
            return False  # read-only rows post nothing (as the messages' inline)
        return access.has_role(request.user, access.VIEWERS, None if obj is None else obj.structure_id)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def notes_field(appointment: Appointment, send: bool) -> str:
    """The notes as text (escaped), and with `send` (the structure's editors) the one-click send: a
    button that posts the change form to the summary view (nested forms are not allowed)."""
    notes = getattr(appointment, "notes", None)
    text = notes.text if notes is not None else ""
    shown = format_html('<div class="gv-notes" id="gv-admin-notes">{}</div>', linebreaks(text)) if text.strip() \
        else format_html("<p>{}</p>", _("No notes were written."))
    if not text.strip() or not send:
        return shown
    return format_html(
        '{}<p><button type="submit" class="button default" id="gv-send-summary" formaction="{}" formmethod="post" '
        'formnovalidate>{}</button></p>', shown, reverse("send_summary", args=[appointment.pk]),
        _("Send these notes as the visit summary"))
