"""A Room is pre-created with each appointment: unguessable slug, encrypted password."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rooms import lobby, secrets


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
    # The citizen's journey before the call, for the agents' day view.
    link_opened_at = models.DateTimeField(_("link opened at"), null=True, blank=True)
    device_ok = models.BooleanField(_("device check passed"), null=True, blank=True)
    device_problems = models.CharField(_("device problems"), max_length=200, blank=True)
    device_checked_at = models.DateTimeField(_("device checked at"), null=True, blank=True)

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

    @property
    def personal_url(self) -> str:
        """The citizen's link with its signed token (fills in the code by itself)."""
        from rooms.tokens import personal_url

        return personal_url(self)

    def personal_url_for(self, channel: str) -> str:
        """The personal link as sent on `channel` ("email", "sms"): bound to that address."""
        from rooms.tokens import personal_url

        return personal_url(self, channel)


class Participant(models.Model):
    """One browser session in a room. The database is the source of truth for presence and
    lobby status, so every Daphne process sees the same room."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="participants")
    pid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    name = models.CharField(_("name"), max_length=60)
    role = models.CharField(max_length=12, choices=[(r.value, r.value) for r in lobby.Role], default=lobby.Role.GUEST)
    status = models.CharField(
        max_length=10, choices=[(s.value, s.value) for s in lobby.Status], default=lobby.Status.WAITING
    )
    # Presence (rooms/presence.py, "Presence leases"): `online` while a socket is attached;
    # present while `lease_until` runs (renewed by the holding process's heartbeat; after a
    # disconnect it is the grace for coming back). `process` and `channel` name the socket.
    online = models.BooleanField(default=False)
    lease_until = models.DateTimeField(null=True, blank=True, db_index=True)
    process = models.CharField(max_length=100, blank=True)
    channel = models.CharField(max_length=120, blank=True)
    hand = models.BooleanField(default=False)
    audio = models.BooleanField(default=True)
    video = models.BooleanField(default=True)
    screen = models.BooleanField(default=False)
    audio_only = models.BooleanField(default=False)
    token_id = models.CharField(max_length=32, blank=True, db_index=True)  # entered with the personal link
    by_phone = models.BooleanField(default=False)  # a telephone (rooms/phone/): audio only, no page
    # A guest's connection indicator in the call (quality.set `link`: good/average/poor),
    # kept for the agents' day view; "" before any reading.
    link = models.CharField(max_length=10, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    status_since = models.DateTimeField(default=timezone.now)  # "waiting since" in the day view
    admitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")

    def __str__(self) -> str:
        return f"{self.name} ({self.role}, {self.status})"

    def as_dict(self) -> dict:
        return {
            "pid": str(self.pid),
            "name": self.name,
            "role": self.role,
            "status": self.status,
            "online": self.online,
            "hand": self.hand,
            "audio": self.audio,
            "video": self.video,
            "screen": self.screen,
            "audio_only": self.audio_only,
            "phone": self.by_phone,
        }


class JoinAttempt(models.Model):
    """A code typed at a room's join page: for the limits (rooms/joinlimits.py), the day view's
    alerts and the log."""

    class Outcome(models.TextChoices):
        ENTERED = "entered", _("right code, entered")
        WRONG = "wrong", _("wrong code")
        # The right code, kept out by a limit on its address: someone who has the code
        # (the citizen?) is locked out. Wrong codes refused by a limit are not stored.
        REFUSED = "refused", _("right code, refused by a limit")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="join_attempts")
    address = models.GenericIPAddressField()
    network = models.CharField(max_length=49)  # what per-address limits count: IPv4, or the IPv6 /56
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Set when the helpdesk or an agent unlocks the room: no longer counted against its address.
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["room", "network", "at"]), models.Index(fields=["room", "at"])]

    def __str__(self) -> str:
        return f"{self.room_id} {self.address} {self.outcome} {self.at:%Y-%m-%d %H:%M}"


class IdentityCheck(models.Model):
    """The audit line of an ID check: who, when, the outcome. No image, no MRZ, no name."""

    class Outcome(models.TextChoices):
        VERIFIED = "verified", _("verified")
        MISMATCH = "mismatch", _("mismatch")
        UNREADABLE = "unreadable", _("unreadable")
        REFUSED = "refused", _("refused")

    appointment = models.ForeignKey(
        "portal.Appointment", on_delete=models.CASCADE, related_name="identity_checks", verbose_name=_("appointment")
    )
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("checked by")
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices)
    document_type = models.CharField(_("document type"), max_length=4, blank=True)
    number_last4 = models.CharField(_("document number (last 4)"), max_length=4, blank=True)

    class Meta:
        verbose_name = _("identity check")
        verbose_name_plural = _("identity checks")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} {self.at:%Y-%m-%d %H:%M}"


class ChatMessage(models.Model):
    """A chat message of a room, kept so that a participant who reconnects (a network cut,
    a restart of Redis or of a server process) gets what was said meanwhile, and so that a
    message the browser sends again is delivered once (`client_id`, unique in the room).
    Personal data of the citizen: purged with the structure's retention (portal/retention.py)."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="chat_messages")
    client_id = models.CharField(max_length=64)  # chosen by the sending browser
    pid = models.UUIDField()  # the sender (Participant.pid), kept if the participant row goes
    name = models.CharField(max_length=60)  # the sender's name when it was said
    text = models.TextField()
    at = models.DateTimeField(default=timezone.now)
    delivered = models.BooleanField(default=False)  # broadcast to the room at least once

    class Meta:
        verbose_name = _("chat message")
        verbose_name_plural = _("chat messages")
        constraints = [models.UniqueConstraint(fields=["room", "client_id"], name="chat_message_once_per_room")]
        indexes = [models.Index(fields=["room", "at"])]

    def __str__(self) -> str:
        return f"{self.room_id} {self.at:%Y-%m-%d %H:%M} {self.name}"

    def as_message(self) -> dict:
        return {"type": "chat.message", "id": self.client_id, "pid": str(self.pid), "name": self.name,
                "text": self.text, "at": self.at.isoformat(timespec="seconds")}


from rooms.notes.models import NotesDocument, NotesTemplate  # noqa: E402 - the notes models belong to this app
from rooms.phone.models import PhoneCall  # noqa: E402  (registered with the rooms app)

__all__ = ["ChatMessage", "IdentityCheck", "JoinAttempt", "NotesDocument", "NotesTemplate", "Participant", "PhoneCall",
           "Room"]
