"""The notes document: one Yjs text named "notes", merged with pycrdt (Yjs-compatible).

No Django here. The server keeps the document's whole state (an encoded Yjs update); a
browser's update is applied to it and checked before anything is stored or broadcast:
only the one plain-text root, no formatting or embedded objects, no control characters,
bounded in size. Applying an update twice changes nothing (Yjs updates are idempotent),
so a browser may send again what it is not sure arrived.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from pycrdt import Doc, Text

ROOT = "notes"
MAX_TEXT = 20_000  # characters of notes: a visit summary, not a book
MAX_UPDATE_B64 = 48 * 1024  # one message's update, base64 (rooms/protocol.py caps the field too)
MAX_VECTOR_B64 = 4 * 1024  # a state vector: a few bytes per client that ever edited
MAX_STATE = 512 * 1024  # the whole encoded document, history of deletions included

# Tab, line feed and carriage return are text; other control characters and lone surrogates
# are not (NUL cannot be stored by PostgreSQL).
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class NotesError(Exception):
    """An update the server refuses; `code` is stable for the browser (PROTOCOL.md)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Merged:
    state: bytes  # the document after the update
    text: str  # its text, for search, the summary and the PDF
    changed: bool  # False: the update brought nothing new (a copy)


def decode(value: str, limit: int, what: str) -> bytes:
    """Base64 from a message into bytes, or NotesError saying what is wrong."""
    if len(value) > limit:
        raise NotesError("too_large", f"The {what} is larger than {limit} characters of base64.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise NotesError("bad_update", f"The {what} is not valid base64.") from None


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _load(state: bytes) -> tuple[Doc, Text]:
    doc: Doc = Doc()
    text = doc.get(ROOT, type=Text)
    if state:
        doc.apply_update(state)
    return doc, text


def seed(text: str) -> bytes:
    """A new document holding `text` (a template), made once by the server."""
    doc: Doc = Doc()
    root = doc.get(ROOT, type=Text)
    text = _UNPRINTABLE.sub("", text)[:MAX_TEXT]  # a template with a stray control character must not lock the notes
    if text:
        root += text
    return doc.get_update()


def text_of(state: bytes) -> str:
    return str(_load(state)[1])


def vector_of(state: bytes) -> bytes:
    return _load(state)[0].get_state()


def missing(state: bytes, vector: bytes) -> bytes:
    """What a browser whose state vector is `vector` lacks of the document."""
    doc, _text = _load(state)
    try:
        return doc.get_update(vector)
    except ValueError:
        raise NotesError("bad_update", "The state vector cannot be decoded.") from None


def merge(state: bytes, update: bytes) -> Merged:
    """Apply a browser's `update` to the document `state`, or raise NotesError."""
    doc, text = _load(state)
    before = doc.get_update()
    try:
        doc.apply_update(update)
    except ValueError:
        raise NotesError("bad_update", "The notes update cannot be decoded (not a Yjs update).") from None
    if set(doc.keys()) != {ROOT}:
        raise NotesError("bad_update", "The notes hold one text named 'notes' and nothing else.")
    after = doc.get_update()
    # Checked on the document as it will be read back from storage: a crafted update can
    # leave the live document reading otherwise than its encoding (found by fuzzing).
    _doc, text = _load(after)
    chunks = text.diff()
    if any(not isinstance(insert, str) or attributes for insert, attributes in chunks):
        raise NotesError("bad_update", "The notes are plain text: no formatting, no embedded objects.")
    content = str(text)
    if len(content) > MAX_TEXT:
        raise NotesError("too_large", f"The notes would exceed {MAX_TEXT} characters.")
    if _UNPRINTABLE.search(content):
        raise NotesError("bad_update", "The notes cannot contain control characters.")
    if len(after) > MAX_STATE:
        raise NotesError("too_large", f"The notes document would exceed {MAX_STATE} bytes.")
    return Merged(state=after, text=content, changed=after != before)
