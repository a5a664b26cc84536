"""Agents' accounts: invitations, open sessions, remembered browsers, reset requests.

Who may do what still comes only from memberships; these rows only say how a person
proves who they are (and could give way to ProConnect per structure: docs/accounts.md).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class InvitationState(models.TextChoices):
    PENDING = "pending", _("invitation sent")
    EXPIRED = "expired", _("invitation expired")
    REVOKED = "revoked", _("invitation revoked")
    ACCEPTED = "accepted", _("account active")


class Invitation(models.Model):
    """The invitation of a new account: its link sets the owner's own password, once."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitation",
                                verbose_name=_("user"))
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+", verbose_name=_("sent by"))
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)
    sent_count = models.PositiveSmallIntegerField(_("times sent"), default=1)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"{self.user} ({self.state().label})"

    def expires_at(self) -> dt.datetime:
        return self.sent_at + dt.timedelta(hours=settings.INVITATION_HOURS)

    def state(self, now: dt.datetime | None = None) -> InvitationState:
        if self.accepted_at is not None:
            return InvitationState.ACCEPTED
        if self.revoked_at is not None:
            return InvitationState.REVOKED
        if (now or timezone.now()) >= self.expires_at():
            return InvitationState.EXPIRED
        return InvitationState.PENDING


class UserSession(models.Model):
    """One signed-in browser of a person: listed on their sessions page, closable there, and
    all closed at once when a manager deactivates them."""

    session_key = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="open_sessions")
    created_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    user_agent = models.CharField(max_length=300, blank=True)
    address = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.address} {self.created_at:%Y-%m-%d %H:%M}"


class TrustedBrowser(models.Model):
    """A browser remembered after a second factor: sign-in there asks for the password only,
    until `expires_at` (at most REMEMBER_BROWSER_DAYS). The cookie holds a random secret;
    only its SHA-256 is kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trusted_browsers")
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user_id} until {self.expires_at:%Y-%m-%d}"


class ResetRequest(models.Model):
    """A password reset asked for, kept for its rate limits (per address, per email)."""

    address = models.CharField(max_length=64, db_index=True)
    email_hash = models.CharField(max_length=64, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.address} {self.at:%Y-%m-%d %H:%M}"
