"""Notifications: confirmation, reminders and notices by email or SMS."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from notifications import receivers, recontact
        from portal import events

        # portal.events are sent inside the action's transaction; each receiver writes its rows
        # there and queues their tasks on commit.
        events.booked.connect(receivers.on_booked, dispatch_uid="notifications.booked")
        events.rescheduled.connect(receivers.on_rescheduled, dispatch_uid="notifications.rescheduled")
        events.cancelled.connect(receivers.on_cancelled, dispatch_uid="notifications.cancelled")
        events.channel_chosen.connect(receivers.on_channel_chosen, dispatch_uid="notifications.channel_chosen")
        events.contact_changed.connect(recontact.on_contact_changed, dispatch_uid="notifications.contact_changed")
