"""A Room is pre-created with each appointment: unguessable slug, encrypted password."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from rooms import secrets


class Room(models.Model):
    class State(models.TextChoices):
        OPEN = "open", _("open")
        CLOSED = "closed", _("closed")

    appointment = models.OneToOneField(
        "portal.Appointment", on_delete=models.CASCADE, related_name="room", verbose_name=_("appointment")
    )
    slug = models.CharField(_("slug"), max_length=32, unique=True, default=secrets.new_slug)
    password_encrypted = models.TextField(_("encrypted password"), editable=False)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.OPEN)
    locked = models.BooleanField(_("locked"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")

    def __str__(self) -> str:
        return self.slug

    def get_absolute_url(self) -> str:
        return reverse("rooms:join", kwargs={"slug": self.slug})

    @property
    def password(self) -> str:
        """The clear password, decrypted on demand (for messages and the agent)."""
        return secrets.decrypt(self.password_encrypted)

    def check_password(self, typed: str) -> bool:
        return secrets.matches(self.password_encrypted, typed)

    @property
    def join_url(self) -> str:
        return settings.SITE_URL + self.get_absolute_url()

    @property
    def is_open(self) -> bool:
        return self.state == self.State.OPEN
