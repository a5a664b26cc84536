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

        from django.contrib.auth.signals import user_logged_out

        from portal.accounts import sessions

        # Signed out: the session leaves the person's list of open sessions.
        user_logged_out.connect(lambda request, **_: sessions.forget(request.session.session_key),
                                weak=False, dispatch_uid="portal.accounts.sessions.forget")
