"""Shared notes on the room's socket (PROTOCOL.md "Shared notes"): Yjs updates made here by
pycrdt as a browser's Yjs would, through the real ASGI application, channel layer and
database; concurrent edits merge, a late joiner gets the document from the server, bad and
oversized updates are refused with a clear error, a guest cannot write read-only notes."""

from __future__ import annotations

import base64
import json

import pytest
from channels.db import database_sync_to_async
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from rooms.notes import crdt
from rooms.notes.models import NotesDocument, NotesTemplate
from rooms.protocol import CLIENT_MESSAGES, ProtocolError, parse
from tests.rooms.conftest import Client, in_the_call, run

pytestmark = pytest.mark.django_db(transaction=True)


class Browser:
    """A browser's Yjs document: what the notes page keeps and sends."""

    def __init__(self) -> None:
        self.doc: Doc = Doc()
        self.text = self.doc.get("notes", type=Text)

    def vector(self) -> str:
        return base64.b64encode(self.doc.get_state()).decode()

    def receive(self, message: dict) -> None:
        self.doc.apply_update(base64.b64decode(message["update"]))

    def type(self, at_end: str) -> str:
        """Type at the end; the update to send (base64)."""
        before = self.doc.get_state()
        self.text.insert(len(self.text), at_end)
        return base64.b64encode(self.doc.get_update(before)).decode()

    def missing_on(self, server_vector: str) -> str:
        return base64.b64encode(self.doc.get_update(base64.b64decode(server_vector))).decode()

    def __str__(self) -> str:
        return str(self.text)


async def synced(client: Client, browser: Browser) -> dict:
    await client.send({"type": "notes.sync", "sv": browser.vector()})
    state = await client.expect("notes.state")
    browser.receive(state)
    return state


def stored_text(room) -> str:
    return NotesDocument.objects.get(appointment=room.appointment).text


def test_edits_merge_and_reach_the_others(room, moderator, citizen):
    NotesTemplate.objects.create(structure=room.appointment.structure, subject="carte d'identité ",
                                 text="# Pièces à fournir\n")

    async def scenario():
        agent, guest = await in_the_call(room.slug, moderator.pid, citizen.pid)
        mine, theirs = Browser(), Browser()
        with guest.ignoring("participant.joined"):
            await synced(agent, mine)
            await synced(guest, theirs)
            assert str(mine) == str(theirs) == "# Pièces à fournir\n"  # the structure's template, for this subject
            # Both type before hearing the other (concurrent edits).
            first, second = mine.type("- passeport\n"), theirs.type("- justificatif\n")
            await agent.send({"type": "notes.update", "update": first})
            await guest.send({"type": "notes.update", "update": second})
            for client, browser in ((agent, mine), (guest, theirs)):
                for _ in range(2):  # both broadcasts reach everyone; one's own is harmless
                    browser.receive(await client.expect("notes.update"))
        assert str(mine) == str(theirs)
        assert "- passeport\n" in str(mine) and "- justificatif\n" in str(mine)
        assert await database_sync_to_async(stored_text)(room) == str(mine)
        await agent.close()
        await guest.close()

    run(scenario())


def test_offline_edits_merge_on_the_next_sync_and_a_late_joiner_gets_everything(room, moderator, citizen):
    async def scenario():
        agent, guest = await in_the_call(room.slug, moderator.pid, citizen.pid)
        mine, theirs = Browser(), Browser()
        with guest.ignoring("participant.joined"):
            await synced(agent, mine)
            await synced(guest, theirs)
            await guest.close()
        await agent.expect("participant.updated")  # connection lost
        # The citizen types offline while the agent types online.
        theirs.type("hors ligne ")
        mine_update = mine.type("en ligne ")
        await agent.send({"type": "notes.update", "update": mine_update})
        mine.receive(await agent.expect("notes.update"))
        # Back: the page syncs (gets what it missed), then sends what the server lacks.
        guest = await Client(room.slug, citizen.pid).connect()
        await guest.expect_each("state", "participant.joined")
        await agent.expect("participant.joined")
        state = await synced(guest, theirs)
        await guest.send({"type": "notes.update", "update": theirs.missing_on(state["sv"])})
        mine.receive(await agent.expect("notes.update"))
        assert str(mine) == str(theirs) and "hors ligne " in str(mine) and "en ligne " in str(mine)
        await agent.close()
        await guest.close()
        # Everyone gone: a participant joining later gets the document from the server.
        late = await Client(room.slug, moderator.pid).connect()
        await late.greeted()
        newcomer = Browser()
        await synced(late, newcomer)
        assert str(newcomer) == str(mine)
        await late.close()

    run(scenario())


def test_malformed_and_oversized_updates_are_refused_with_a_clear_error(room, moderator):
    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        await synced(agent, Browser())
        cases = [
            ("not base64 at all!", "bad_update", "not valid base64"),
            (base64.b64encode(b"\xff" * 20).decode(), "bad_update", "cannot be decoded"),
            ("A" * (crdt.MAX_UPDATE_B64 + 4), "too_long", "exceeds"),
        ]
        for update, code, words in cases:
            await agent.send({"type": "notes.update", "update": update})
            error = await agent.expect("error")
            assert error["code"] == code and words in error["message"] and error["ref"] == "notes.update"
        # A well-formed update whose text is too long for notes.
        big = Browser()
        big.text.insert(0, "x" * (crdt.MAX_TEXT + 1))
        update = base64.b64encode(big.doc.get_update()).decode()
        assert len(update) < crdt.MAX_UPDATE_B64
        await agent.send({"type": "notes.update", "update": update})
        error = await agent.expect("error")
        assert error["code"] == "too_large" and str(crdt.MAX_TEXT) in error["message"]
        # Formatting (rich text) and other roots are refused: the notes are plain text.
        rich = Browser()
        rich.text.insert(0, "gras", {"bold": True})
        await agent.send({"type": "notes.update", "update": base64.b64encode(rich.doc.get_update()).decode()})
        assert (await agent.expect("error"))["code"] == "bad_update"
        assert await database_sync_to_async(stored_text)(room) == ""  # nothing of it was kept
        await agent.close()

    run(scenario())


def test_a_guest_cannot_write_read_only_notes(room, moderator, citizen):
    async def scenario():
        agent, guest = await in_the_call(room.slug, moderator.pid, citizen.pid)
        mine, theirs = Browser(), Browser()
        with guest.ignoring("participant.joined"):
            await synced(agent, mine)
            await synced(guest, theirs)
            await guest.send({"type": "notes.lock", "read_only": True})
            assert (await guest.expect("error"))["code"] == "forbidden"  # only the agent decides
            await agent.send({"type": "notes.lock", "read_only": True})
            for client in (agent, guest):
                assert (await client.expect("notes.locked"))["read_only"] is True
            await guest.send({"type": "notes.update", "update": theirs.type("pas le droit")})
            error = await guest.expect("error")
            assert error["code"] == "read_only" and error["ref"] == "notes.update"
            # A page that reconnects learns it from the sync.
            assert (await synced(guest, Browser()))["read_only"] is True
            await agent.send({"type": "notes.update", "update": mine.type("L'agent écrit.")})
            await agent.expect("notes.update")
            await guest.expect("notes.update")
        assert await database_sync_to_async(stored_text)(room) == "L'agent écrit."
        await agent.close()
        await guest.close()

    run(scenario())


def test_someone_waiting_gets_no_notes(room, moderator, citizen):
    async def scenario():
        guest = await Client(room.slug, citizen.pid).connect()
        await guest.greeted()
        await guest.send({"type": "notes.sync"})
        assert (await guest.expect("error"))["code"] == "not_admitted"
        await guest.close()

    run(scenario())


# --- fuzzing: whatever arrives, the server answers with a document or a clear refusal ---
_BASE = crdt.seed("Pièces à fournir :\n- [ ] passeport\n")


def _valid_update() -> bytes:
    browser = Browser()
    browser.doc.apply_update(_BASE)
    before = browser.doc.get_state()
    browser.text.insert(3, "ajouté ")
    del browser.text[0:2]
    return browser.doc.get_update(before)


_UPDATE = _valid_update()


@given(st.one_of(
    st.binary(max_size=3000),
    # A real update with bytes changed, cut or added: the decoder's edge cases.
    st.builds(lambda at, byte: _UPDATE[:at] + bytes([byte]) + _UPDATE[at + 1:],
              st.integers(0, len(_UPDATE) - 1), st.integers(0, 255)),
    st.builds(lambda cut: _UPDATE[:cut], st.integers(0, len(_UPDATE))),
    st.builds(lambda extra: _UPDATE + extra, st.binary(max_size=50)),
))
@settings(max_examples=1500, deadline=None)
def test_any_bytes_as_an_update_merge_or_are_refused_clearly(data):
    try:
        merged = crdt.merge(_BASE, data)
    except crdt.NotesError as error:
        assert error.code in {"bad_update", "too_large"} and error.message
        return
    assert len(merged.text) <= crdt.MAX_TEXT and "\x00" not in merged.text
    assert crdt.text_of(merged.state) == merged.text  # what is stored reads back the same


@given(st.dictionaries(st.sampled_from(["type", "sv", "update", "read_only", "other"]),
                       st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=80),
                                 st.sampled_from(["notes.sync", "notes.update", "notes.lock"]),
                                 st.binary(max_size=60).map(lambda b: base64.b64encode(b).decode())),
                       max_size=4))
@settings(max_examples=1500, deadline=None)
def test_any_notes_message_parses_or_is_refused_clearly(message):
    try:
        clean = parse(json.dumps(message))
    except ProtocolError as error:
        assert error.code and error.message
        return
    if clean["type"].startswith("notes."):
        for name, field in CLIENT_MESSAGES[clean["type"]].items():
            assert name in clean or not field.required
        if "sv" in clean or "update" in clean:
            try:
                crdt.missing(_BASE, crdt.decode(clean.get("sv") or clean.get("update", ""), 10**6, "test"))
            except crdt.NotesError as error:
                assert error.code in {"bad_update", "too_large"}
