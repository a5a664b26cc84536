from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Appointments")

    def ready(self) -> None:
        from portal import booking
        from rooms.signals import meeting_ended

        # An agent's "end for everyone" (rooms) marks the appointment done (portal's action).
        meeting_ended.connect(booking.meeting_ended, dispatch_uid="portal.booking.meeting_ended")
