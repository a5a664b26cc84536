"""A telephone call into a room (dial-in or dial-out). No audio and no full number is kept."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class PhoneCall(models.Model):
    class Direction(models.TextChoices):
        IN = "in", _("dial-in")
        OUT = "out", _("dial-out")

    call_sid = models.CharField(max_length=34, unique=True)
    structure = models.ForeignKey("portal.Structure", on_delete=models.CASCADE, related_name="+")
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.IN)
    number_tail = models.CharField(max_length=2, blank=True)  # "Téléphone ··78": the last two digits only
    room = models.ForeignKey("rooms.Room", null=True, blank=True, on_delete=models.CASCADE, related_name="phone_calls")
    wrong_codes = models.PositiveSmallIntegerField(default=0)
    # The Media Stream's token: its SHA-256 only; claimed once (used_at), before expires_at.
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    token_used_at = models.DateTimeField(null=True, blank=True)
    participant_pid = models.UUIDField(null=True, blank=True)
    status = models.CharField(max_length=16, blank=True)  # Twilio's CallStatus, as last reported
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("phone call")
        verbose_name_plural = _("phone calls")

    def __str__(self) -> str:
        return f"{self.direction} ··{self.number_tail} {self.status}"
