"""The notes on the database: one row per appointment, updated under a row lock.

The server holds the document: every Daphne process reads and writes the same row, so a
participant on any process, and one who joins after everyone left or after a restart, gets
the whole document from here, never from another browser. Plain synchronous functions:
the consumer calls them through rooms.dbcall.db.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from rooms import lobby
from rooms.notes import crdt, templates
from rooms.notes.models import NotesDocument

# Who may still write when the agent made the notes read-only for guests: staff, not the
# citizen, code guests or interpreters. The helpdesk changes nothing (README, rights).
WRITERS_WHEN_READ_ONLY = frozenset({lobby.Role.MODERATOR, lobby.Role.AGENT})


def document(appointment) -> NotesDocument:
    """The appointment's notes, made from its structure's template the first time."""
    found = NotesDocument.objects.filter(appointment_id=appointment.pk).first()
    if found is not None:
        return found
    notes, _created = NotesDocument.objects.get_or_create(
        appointment_id=appointment.pk, defaults=_seeded(templates.starting_text(appointment))
    )
    return notes


def _seeded(text: str) -> dict:
    state = crdt.seed(text)
    return {"state": state, "text": crdt.text_of(state)}


def state_message(appointment, vector_b64: str | None) -> dict:
    """`notes.state` for a browser whose state vector is `vector_b64` (None: it has nothing):
    what it lacks, the server's vector (it then sends what the server lacks), read-only."""
    notes = document(appointment)
    state = bytes(notes.state)
    vector = crdt.decode(vector_b64, crdt.MAX_VECTOR_B64, "state vector") if vector_b64 else b"\x00"
    return {"type": "notes.state", "update": crdt.encode(crdt.missing(state, vector)),
            "sv": crdt.encode(crdt.vector_of(state)), "read_only": notes.guests_read_only}


@dataclass(frozen=True)
class Applied:
    update: str  # base64, to broadcast as received; "" when it brought nothing new
    text: str


def apply(appointment, role: str, update_b64: str) -> Applied:
    """Merge one browser's update into the stored document, or raise crdt.NotesError
    (`read_only` for a guest while the agent keeps the notes read-only)."""
    update = crdt.decode(update_b64, crdt.MAX_UPDATE_B64, "notes update")
    document(appointment)
    with transaction.atomic():
        notes = NotesDocument.objects.select_for_update().get(appointment_id=appointment.pk)
        if notes.guests_read_only and role not in WRITERS_WHEN_READ_ONLY:
            raise crdt.NotesError("read_only", "The agent made the notes read-only.")
        merged = crdt.merge(bytes(notes.state), update)
        if not merged.changed:
            return Applied("", merged.text)
        notes.state, notes.text = merged.state, merged.text
        notes.save(update_fields=["state", "text", "updated_at"])
    return Applied(update_b64, merged.text)


def set_read_only(appointment, read_only: bool) -> None:
    document(appointment)
    NotesDocument.objects.filter(appointment_id=appointment.pk).update(guests_read_only=read_only)


def text(appointment) -> str:
    """The notes as they stand (no row yet: the starting text)."""
    return document(appointment).text
