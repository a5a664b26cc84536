from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class RoomsConfig(AppConfig):
    name = "rooms"
    verbose_name = _("Rooms")

    def ready(self) -> None:
        from rooms.checks import media_contract

        checks.register(media_contract)
