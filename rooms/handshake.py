"""A room socket's handshake on the database, in two calls (the consumer subscribes its
channel-layer groups between them).

Why two: every database call from the event loop is a hop to a thread and a connection
lent by the pool (checked with a round trip first). The handshake made six or seven
(Channels' session, then its user, which the room does not use; the participant; its
presence; the state; the chat's replay, a second query for the waiting room), and a Daphne
process took ~30 handshakes a second on this machine (bench/handshake_cost.py): 290 sockets
of a killed process needed 10 s to come back on the other one. Plain synchronous functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from django.conf import settings

from rooms import chat, entry, lobby, presence
from rooms.models import Participant, Room


def session_participant(slug: str, session_key: str | None) -> str | None:
    """The pid the browser's session holds for this room (the join views put it there)."""
    if not session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    pid = store.get(presence.session_key(slug))  # one query; an expired or unknown session holds nothing
    return pid if isinstance(pid, str) else None


def enter(slug: str, session_key: str | None, *, process: str,
          channel: str) -> tuple[entry.Decision, Participant | None]:
    """First call: who this socket is (its session), whether it may enter (rooms/entry.py),
    and if so online with a lease held by `channel` of `process`, in its status."""
    decision, participant = entry.on_connect(slug, session_participant(slug, session_key))
    if participant is None or decision.status is None:
        return decision, None
    return decision, presence.connect(participant, decision.status, process=process, channel=channel)


@dataclass(frozen=True)
class Greeting:
    state: dict  # presence.state: the participant (status read now), the call, the lobby
    queue: dict | None  # presence.queue_info, for a participant waiting
    replay: list[dict]  # rooms/chat.py: what the call said since this participant was admitted

    @property
    def status(self) -> str:
        return self.state["you"]["status"]


def greet(room: Room, pid: str) -> Greeting:
    """Second call, once the socket hears its groups: what it is told first. The status is
    read again here: an admission that landed before the socket heard its personal group
    was told to nobody (the consumer then joins the call and greets again)."""
    state, you = presence.state_of(room, pid)
    if you.status == lobby.Status.ADMITTED:
        return Greeting(state, None, chat.replay_since(room.pk, you.admitted_at))
    return Greeting(state, presence.queue_info(room), [])
