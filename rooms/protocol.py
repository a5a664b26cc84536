"""The signalling protocol: every WebSocket message type, declared once, validated on entry.

rooms/PROTOCOL.md documents the same table for the browser code (rooms/static/rooms/js).
A message is a JSON object `{"type": "<type>", ...fields}`. Anything else gets an
`error` message back naming what is wrong; the connection and the room carry on.
"""

from __future__ import annotations

import enum
import json
import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

from rooms.notes.crdt import MAX_UPDATE_B64, MAX_VECTOR_B64

MAX_MESSAGE_BYTES = 64 * 1024  # an SDP with many m-lines stays well under this
MAX_SDP = 60 * 1024
MAX_CHAT = 1000
MAX_LOBBY_MESSAGE = 200
MAX_NAME = 60
PID_LEN = 36  # uuid4 text

# Emoji reactions, by name (the browser draws the emoji and its label: reactions.js, which
# lists the same names, tests/rooms/test_reactions.py). A fixed set: nothing free-form
# reaches the others' screens.
REACTIONS = ("thumbs_up", "clap", "heart", "laugh", "surprised", "thanks")


class CloseCode(enum.IntEnum):
    """The codes the server closes a room socket with: final decisions (the browser does not
    reconnect), except those in RETRY. PROTOCOL.md ("Close codes") and
    rooms/static/rooms/js/codes.js name the same numbers (tests/rooms/test_close_codes.py)."""

    NO_SESSION = 4401  # no valid join session for this room: back to the join page
    REFUSED = 4403  # refused or removed by a moderator
    ENDED = 4410  # room closed or meeting ended
    REPLACED = 4409  # the personal link was taken over by another device ("continuer ici")
    BUSY = 4503  # this server takes no more connections now: retry after the hint (rooms/admission.py)
    # The channel layer's Redis is unreachable: come back (jittered backoff); the participant
    # keeps its place for the grace (PROTOCOL.md "Channel layer outage").
    UNAVAILABLE = 4504


# Server codes after which the browser comes back (BUSY: after the `busy` message's hint).
RETRY = frozenset({CloseCode.BUSY, CloseCode.UNAVAILABLE})


CLIENT_ID_LEN = 64  # a message id chosen by the browser (chat.send): letters, digits, - and _
_CLIENT_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{CLIENT_ID_LEN}}}")


@dataclass(frozen=True)
class Field:
    kind: type
    required: bool = True
    max_len: int | None = None
    choices: frozenset[str] | None = None  # the only values accepted (bad_field otherwise)


# Client → server messages, with their fields. MODERATOR_ONLY (below) lists those only
# moderators may send; LOBBY_ALLOWED those allowed before being admitted.
LINK_LEVELS = ("unknown", "good", "average", "poor")

CLIENT_MESSAGES: dict[str, dict[str, Field]] = {
    "ping": {},
    # n: the browser's number for this offer, echoed in the answer (an answer to an offer it
    # has since replaced, e.g. the waiting room's, is then recognised and dropped).
    "rtc.offer": {"sdp": Field(str, max_len=MAX_SDP), "n": Field(int, required=False)},
    # From the waiting room (guests): the connection made while waiting, no media until admitted.
    "rtc.prepare": {"sdp": Field(str, max_len=MAX_SDP), "n": Field(int, required=False)},
    "rtc.answer": {"sdp": Field(str, max_len=MAX_SDP)},
    "media.state": {"audio": Field(bool), "video": Field(bool), "screen": Field(bool, required=False)},
    # audio_only: what this browser wants to receive; link: its connection as its indicator
    # measures it (rooms/static/rooms/js/linkquality.js), `auto` when it switched itself to
    # audio only for that reason. Each field optional: a browser sends what changed.
    "quality.set": {"audio_only": Field(bool, required=False),
                    "link": Field(str, required=False, max_len=10, choices=frozenset(LINK_LEVELS)),
                    "auto": Field(bool, required=False)},
    "hand.set": {"raised": Field(bool)},
    "chat.send": {"text": Field(str, max_len=MAX_CHAT), "id": Field(str, required=False, max_len=CLIENT_ID_LEN)},
    "name.set": {"name": Field(str, max_len=MAX_NAME)},
    "lobby.admit": {"pid": Field(str, max_len=PID_LEN)},
    "lobby.refuse": {"pid": Field(str, max_len=PID_LEN)},
    "mod.mute": {"pid": Field(str, max_len=PID_LEN)},
    "mod.remove": {"pid": Field(str, max_len=PID_LEN)},
    "mod.end": {},
    "room.lock": {"locked": Field(bool)},
    "room.password": {},
    "leave": {},
    "lobby.message": {"pid": Field(str, max_len=PID_LEN), "text": Field(str, max_len=MAX_LOBBY_MESSAGE)},
    "lobby.return": {"pid": Field(str, max_len=PID_LEN)},
    "lobby.info": {},
    "idcheck.start": {"pid": Field(str, max_len=PID_LEN)},
    "idcheck.cancel": {"pid": Field(str, max_len=PID_LEN)},
    "idcheck.accept": {},
    "idcheck.refuse": {},
    "reaction.send": {"reaction": Field(str, max_len=20, choices=frozenset(REACTIONS))},
    "mod.lower_hand": {"pid": Field(str, max_len=PID_LEN)},
    "mod.lower_hands": {},
    # Shared notes (rooms/notes/): Yjs state vector and update, base64.
    "notes.sync": {"sv": Field(str, required=False, max_len=MAX_VECTOR_B64)},
    "notes.update": {"update": Field(str, max_len=MAX_UPDATE_B64)},
    "notes.lock": {"read_only": Field(bool)},
    "phone.call": {"number": Field(str, required=False, max_len=30)},
    "mod.rename": {"pid": Field(str, max_len=PID_LEN), "name": Field(str, max_len=MAX_NAME)},
}
MODERATOR_ONLY = frozenset(
    {
        "lobby.admit", "lobby.refuse", "lobby.message", "lobby.return",
        "mod.mute", "mod.remove", "mod.end", "room.lock", "room.password",
        "idcheck.start", "idcheck.cancel", "mod.lower_hand", "mod.lower_hands", "phone.call",
        "mod.rename", "notes.lock",
    }
)
# Allowed while still waiting in the lobby (before being admitted).
LOBBY_ALLOWED = frozenset({"ping", "name.set", "leave", "lobby.info", "quality.set", "rtc.prepare"})


# NUL and lone surrogates cannot be stored (PostgreSQL, UTF-8); other control characters
# make no sense in text; a name is one line.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_UNPRINTABLE_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

# Words a name may not start or end with: they would pass a person off as staff to the
# citizen ("Camille Martin (agent)"). Compared without case or accents; the prefixes cover
# inflections (modérateur, modératrice, interprète, administratrice…).
_ROLE_WORDS = frozenset({"agent", "agente", "assistance", "assistant", "assistante", "conseiller",
                         "conseillere", "admin", "helpdesk"})
_ROLE_PREFIXES = ("moderat", "interpr", "administrat")
_ROLE_PHRASES = ("france services", "service public")


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def claims_role(name: str) -> bool:
    """Whether a display name starts or ends with a role word ("Agent X", "X (modératrice)")."""
    words = re.findall(r"[a-z0-9]+", _plain(name))
    if not words:
        return False
    joined = " ".join(words)
    if any(joined.startswith(p) or joined.endswith(p) for p in _ROLE_PHRASES):
        return True
    return any(word in _ROLE_WORDS or word.startswith(_ROLE_PREFIXES) for word in (words[0], words[-1]))


class ProtocolError(Exception):
    """A message the server refuses; `code` is stable for the browser, `message` for humans."""

    def __init__(self, code: str, message: str, ref: str | None = None):
        super().__init__(message)
        self.code, self.message, self.ref = code, message, ref

    def as_message(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code, "message": self.message, "ref": self.ref}


def parse(raw: str | bytes | None) -> dict[str, Any]:
    """Decode and validate one client message; raise ProtocolError saying what is wrong."""
    if raw is None:
        raise ProtocolError("bad_json", "Binary frames are not accepted; send JSON text.")
    if len(raw.encode() if isinstance(raw, str) else raw) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"Message larger than {MAX_MESSAGE_BYTES} bytes.")
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("bad_json", "Message is not valid JSON.") from None
    except RecursionError:  # "[" * 3000: the decoder recurses once per level
        raise ProtocolError("bad_json", "Message nests too deeply.") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("bad_message", "A message is a JSON object with a string 'type'.")
    kind = message["type"]
    fields = CLIENT_MESSAGES.get(kind)
    if fields is None:
        raise ProtocolError("unknown_type", f"Unknown message type '{kind[:40]}'.", ref=kind[:40])
    clean: dict[str, Any] = {"type": kind}
    for name, field in fields.items():
        if name not in message:
            if field.required:
                raise ProtocolError("missing_field", f"'{kind}' needs a '{name}' field.", ref=kind)
            continue
        value = message[name]
        # bool is an int subclass: require the exact type.
        if type(value) is not field.kind:
            raise ProtocolError("bad_field", f"'{name}' of '{kind}' must be {field.kind.__name__}.", ref=kind)
        if field.max_len is not None and isinstance(value, str) and len(value) > field.max_len:
            raise ProtocolError("too_long", f"'{name}' of '{kind}' exceeds {field.max_len} characters.", ref=kind)
        if isinstance(value, str) and (_UNPRINTABLE_NAME if name == "name" else _UNPRINTABLE).search(value):
            raise ProtocolError("bad_field", f"'{name}' of '{kind}' contains control characters.", ref=kind)
        if field.choices is not None and value not in field.choices:
            raise ProtocolError("bad_field", f"'{name}' of '{kind}' must be one of {', '.join(sorted(field.choices))}.",
                                ref=kind)
        if name in ("text", "name") and isinstance(value, str):  # free text: trimmed, never empty
            value = value.strip()
            if not value:
                raise ProtocolError("bad_field", f"'{name}' of '{kind}' is empty.", ref=kind)
        if name == "name" and claims_role(value):
            raise ProtocolError("reserved_name", "A name cannot claim a role (agent, assistance, interpreter…).",
                                ref=kind)
        if name == "id" and not _CLIENT_ID.fullmatch(value):
            raise ProtocolError("bad_field", f"'id' of '{kind}' is 1 to {CLIENT_ID_LEN} letters, digits, - or _.",
                                ref=kind)
        if name == "n" and not 0 <= value < 2**31:
            raise ProtocolError("bad_field", f"'n' of '{kind}' is a number from 0 to 2^31 - 1.", ref=kind)
        if name == "pid":
            try:
                value = str(uuid.UUID(value))
            except ValueError:
                raise ProtocolError("bad_field", f"'pid' of '{kind}' is not a participant id.", ref=kind) from None
        clean[name] = value
    return clean
