"""Lobby rules: the statuses and their transitions, what each role may send in each status.
No I/O.

Who enters, as whom and into which status is decided in rooms/entry.py (one decision for
every way in); here, what happens once in.

A participant's status moves along these transitions:

    waiting  → admitted | refused | left
    admitted → left | removed | waiting (the agent sends them back to the waiting room)
    left     → waiting (a guest coming back) | admitted (a moderator coming back)

refused and removed are final for that browser session: it must start over from the
join page (with the password), so a refused person cannot simply reconnect.
"""

from __future__ import annotations

import enum

from rooms.protocol import LOBBY_ALLOWED, MODERATOR_ONLY


class Status(enum.StrEnum):
    WAITING = "waiting"
    ADMITTED = "admitted"
    REFUSED = "refused"
    REMOVED = "removed"
    LEFT = "left"


class Role(enum.StrEnum):
    MODERATOR = "moderator"  # the appointment's agent, the structure's managers
    GUEST = "guest"  # the citizen, or someone with the code
    # Third parties, shown with their role to everyone in the call (rooms/entry.py):
    AGENT = "agent"  # another agent of the structure
    HELPDESK = "helpdesk"  # the structure's helpdesk ("Assistance France Services")
    INTERPRETER = "interpreter"  # entered with the code as the citizen's interpreter


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.WAITING: frozenset({Status.ADMITTED, Status.REFUSED, Status.LEFT}),
    Status.ADMITTED: frozenset({Status.LEFT, Status.REMOVED, Status.WAITING}),
    Status.LEFT: frozenset({Status.WAITING, Status.ADMITTED}),
    Status.REFUSED: frozenset(),
    Status.REMOVED: frozenset(),
}
FINAL = frozenset({Status.REFUSED, Status.REMOVED})


class LobbyError(Exception):
    code = "forbidden"


class NotAllowed(LobbyError):
    code = "forbidden"


class NotAdmitted(LobbyError):
    code = "not_admitted"


class BadTransition(LobbyError):
    code = "bad_transition"


class UnknownParticipant(LobbyError):
    code = "unknown_participant"


def check_transition(current: str, target: str) -> None:
    if Status(target) not in TRANSITIONS[Status(current)]:
        raise BadTransition(f"cannot go from {current} to {target}")


def check_message(role: str, status: str, message_type: str) -> None:
    """Raise unless a participant with `role` and `status` may send `message_type`."""
    if message_type in MODERATOR_ONLY and role != Role.MODERATOR:
        raise NotAllowed("Only the agent can do this.")
    if Status(status) is not Status.ADMITTED and message_type not in LOBBY_ALLOWED:
        raise NotAdmitted("Wait until the agent lets you in.")

