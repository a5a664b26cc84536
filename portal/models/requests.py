"""What citizens ask from the link in their messages: cancel, or another time."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models.appointments import Appointment
from portal.models.structures import Structure


class Slot(models.Model):
    """A time an agent opens for citizens who ask to move their appointment."""

    structure = models.ForeignKey(Structure, on_delete=models.CASCADE, related_name="slots",
                                  verbose_name=_("structure"))
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="slots",
                              verbose_name=_("agent"))
    start = models.DateTimeField(_("start"))
    taken_by = models.OneToOneField("ChangeRequest", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("taken by"))

    class Meta:
        verbose_name = _("open slot")
        verbose_name_plural = _("open slots")
        ordering = ["start"]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}"


class ChangeRequest(models.Model):
    class Kind(models.TextChoices):
        CANCEL = "cancel", _("cancellation")
        MOVE = "move", _("another time")

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="change_requests",
                                    verbose_name=_("appointment"))
    kind = models.CharField(_("request"), max_length=8, choices=Kind.choices)
    message = models.TextField(_("citizen's message"), blank=True, max_length=500)
    slot = models.ForeignKey(Slot, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("slot chosen"))
    created_at = models.DateTimeField(_("asked at"), auto_now_add=True)
    handled = models.BooleanField(_("handled"), default=False)

    class Meta:
        verbose_name = _("citizen's request")
        verbose_name_plural = _("citizens' requests")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.appointment}"
