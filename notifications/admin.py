"""The appointment's messages, shown inline in the back-office (read-only)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from notifications.models import Notification
from portal import access
from portal.models import Appointment

if TYPE_CHECKING:  # Django's admin classes are generic in the stubs only
    _Inline = admin.TabularInline[Notification, Appointment]
else:
    _Inline = admin.TabularInline


class NotificationInline(_Inline):
    model = Notification
    fk_name = "appointment"
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = _("messages to the citizen")
    fields = ("created_at", "kind", "channel", "recipient", "status", "attempts", "sent_at", "what_to_do", "last_error")
    readonly_fields = fields
    ordering = ["created_at", "id"]

    @admin.display(description=_("problem and what to do"))
    def what_to_do(self, notification: Notification) -> str:
        return notification.explanation()

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if request.method == "POST":
            # Read-only rows post nothing; left out of POSTs, the appointment form does not
            # require this inline's management form.
            return False
        # Rights come from memberships: whoever sees the appointment sees its messages.
        return access.has_role(request.user, access.VIEWERS, None if obj is None else obj.structure_id)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def resend_link(model_admin: Any, request: HttpRequest, queryset: QuerySet[Appointment]) -> None:
    # model_admin: the appointments' admin (portal/admin), which defines has_resend_link_permission.
    """Queue a reminder now for each selected appointment the user may see."""
    from django.contrib import messages
    from django.db import transaction
    from django.utils.translation import ngettext

    from notifications import delivery
    from notifications.tasks import publish

    user = request.user
    if isinstance(user, AnonymousUser):  # the admin site lets only staff in
        return
    queued = 0
    for appointment in queryset.select_related("structure"):
        if not model_admin.has_resend_link_permission(request, appointment):
            continue
        notification = delivery.resend_link(appointment, by=user)
        if notification is not None:
            queued += 1
            plan = delivery.Dispatch()
            plan.add(notification)
            transaction.on_commit(partial(publish, plan))
    if queued:
        text = ngettext(
            "The link will be sent again for %(n)d appointment.",
            "The link will be sent again for %(n)d appointments.",
            queued,
        )
        model_admin.message_user(request, text % {"n": queued}, messages.SUCCESS)
    else:
        model_admin.message_user(request, _("No link sent: the appointments are over or cancelled."), messages.WARNING)
