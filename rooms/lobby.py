"""Lobby rules: the statuses and their transitions, what each role may send in each status,
where a (re)connecting participant lands, whether a locked room admits. No I/O.

Who is a moderator is not decided here: the room's entry views give the role
(presence.enter_as_member for the agents, enter_as_guest for the citizen's link).

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
    MODERATOR = "moderator"
    GUEST = "guest"


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


def status_on_connect(role: str, current: str) -> Status:
    """Where a (re)connecting participant lands: moderators enter directly; a guest who
    had left goes back to the lobby; anyone else keeps the status they had."""
    status = Status(current)
    if status is Status.LEFT:
        return Status.ADMITTED if role == Role.MODERATOR else Status.WAITING
    return status


def check_message(role: str, status: str, message_type: str) -> None:
    """Raise unless a participant with `role` and `status` may send `message_type`."""
    if message_type in MODERATOR_ONLY and role != Role.MODERATOR:
        raise NotAllowed("Only the agent can do this.")
    if Status(status) is not Status.ADMITTED and message_type not in LOBBY_ALLOWED:
        raise NotAdmitted("Wait until the agent lets you in.")


def may_admit(locked: bool) -> bool:
    """A locked room keeps everyone new in the lobby."""
    return not locked
