"""The signalling consumer through the real ASGI application (WebsocketCommunicator)."""

import json

import pytest

import portal.asgi  # noqa: F401 - sets up Django's logging now, not under caplog (it would drop caplog's handler)
from rooms import protocol
from rooms.models import Participant, Room
from tests.rooms.conftest import Client, admit, run, seated

pytestmark = pytest.mark.django_db(transaction=True)


def test_no_join_session_is_closed_4401(room):
    async def scenario():
        client = Client(room.slug)
        await client.connect()
        assert await client.closed_with() == 4401

    run(scenario())


def test_refused_socket_is_logged_with_the_client_network_only(room, caplog, settings):
    """Behind the proxy (here reached over a socket with no peer address, like a Unix
    socket), the log names the network of the address nginx appended (its /24), not the
    forged left-most one."""
    from channels.testing import WebsocketCommunicator

    from portal.asgi import application

    settings.TRUSTED_PROXIES = ["1"]

    async def scenario():
        ws = WebsocketCommunicator(application, f"/ws/rooms/{room.slug}/", headers=[
            (b"origin", b"http://testserver"), (b"host", b"testserver"),
            (b"x-forwarded-for", b"6.6.6.6, 203.0.113.9")])
        assert (await ws.connect(timeout=5))[0]
        assert (await ws.receive_output(timeout=5))["code"] == 4401
        await ws.disconnect()

    with caplog.at_level("INFO", logger="rooms.signalling"):
        run(scenario())
    # The client behind the proxy (not the forged left-most hop), cut to its /24.
    assert f"room socket refused: room={room.slug} code=4401 network=203.0.113.0/24" in caplog.text
    assert "203.0.113.9" not in caplog.text


def test_lobby_admit_chat_hand_mute_leave(room, moderator, citizen):
    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        state = await agent.greeted()
        assert state["you"]["role"] == "moderator" and state["you"]["status"] == "admitted"
        guest = await Client(room.slug, citizen.pid).connect()
        guest_state = await guest.greeted()
        assert guest_state["you"]["status"] == "waiting" and guest_state["lobby"] == []
        waiting = await agent.expect("lobby.waiting")
        assert waiting["participant"]["name"] == "Jeanne Dupont"

        # Waiting: cannot chat, cannot moderate.
        await guest.send({"type": "chat.send", "text": "bonjour"})
        assert (await guest.expect("error"))["code"] == "not_admitted"
        await agent.quiet()  # the refused chat reached nobody

        assert (await admit(agent, guest, citizen.pid))["you"]["status"] == "admitted"

        with guest.ignoring("participant.joined"):  # its own arrival, if it joined the room's group in time
            await guest.send({"type": "mod.end"})
            assert (await guest.expect("error"))["code"] == "forbidden"

            await guest.send({"type": "chat.send", "text": "  Bonjour 👋  "})
            for client in (agent, guest):
                chat = await client.expect("chat.message")
                assert chat["text"] == "Bonjour 👋" and chat["name"] == "Jeanne Dupont"

            await guest.send({"type": "hand.set", "raised": True})
            for client in (agent, guest):  # the whole room, the citizen included
                update = await client.expect("participant.updated")
                assert update["participant"]["hand"] is True

            await agent.send({"type": "mod.mute", "pid": str(citizen.pid)})
            muted = await guest.expect_each("mod.muted", "participant.updated")  # to the citizen, to the room
            assert muted["mod.muted"]["by"] == str(moderator.pid)
            assert muted["participant.updated"]["participant"]["audio"] is False
            assert (await agent.expect("participant.updated"))["participant"]["audio"] is False

            await guest.send({"type": "media.state", "audio": False, "video": False})
            assert (await agent.expect("participant.updated"))["participant"]["video"] is False

        await guest.send({"type": "leave"})
        # A moderator is in the room's group and the moderators': it hears of the departure twice.
        left = await agent.expect("participant.left")
        assert left["participant"]["status"] == "left"
        assert (await agent.expect("participant.left"))["participant"]["pid"] == str(citizen.pid)
        await agent.close()

    run(scenario())
    assert Participant.objects.get(pk=citizen.pk).status == "left"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_message"),
        (json.dumps({"type": "teleport"}), "unknown_type"),
        (json.dumps({"type": "chat.send"}), "missing_field"),
        (json.dumps({"type": "chat.send", "text": 42}), "bad_field"),
        (json.dumps({"type": "hand.set", "raised": 1}), "bad_field"),
        (json.dumps({"type": "chat.send", "text": "x" * 1001}), "too_long"),
        (json.dumps({"type": "chat.send", "text": "   "}), "bad_field"),
        ("x" * (protocol.MAX_MESSAGE_BYTES + 1), "too_large"),
        (json.dumps({"type": "rtc.offer", "sdp": "v=0 garbage"}), "bad_sdp"),
        (json.dumps({"type": "rtc.offer", "sdp": "v=0", "n": -1}), "bad_field"),
        (json.dumps({"type": "rtc.offer", "sdp": "v=0", "n": 2**31}), "bad_field"),
        (json.dumps({"type": "rtc.offer", "sdp": "v=0", "n": True}), "bad_field"),
        (json.dumps({"type": "lobby.admit", "pid": "00000000-0000-0000-0000-000000000000"}), "unknown_participant"),
        (json.dumps({"type": "mod.mute", "pid": "nobody"}), "bad_field"),
        (json.dumps({"type": "mod.mute", "pid": "00000000-0000-0000-0000-000000000000"}), "unknown_participant"),
    ],
)
def test_bad_input_gets_a_clear_error_and_the_room_carries_on(room, moderator, citizen, raw, code):
    citizen.status = "admitted"
    citizen.save()

    async def scenario():
        agent, guest = await seated(room.slug, moderator.pid, citizen.pid)
        await agent.send(raw)
        error = await agent.expect("error")
        assert error["code"] == code and error["message"]
        # Nobody else heard anything of it, and both still work.
        await agent.send({"type": "ping"})
        await agent.expect("pong")
        await guest.send({"type": "chat.send", "text": "toujours là"})
        assert (await agent.expect("chat.message"))["text"] == "toujours là"
        await agent.close()
        await guest.close()

    run(scenario())


def test_binary_frame_is_refused_clearly(room, moderator):
    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        await agent.ws.send_to(bytes_data=b"\x00\x01")
        assert (await agent.expect("error"))["code"] == "bad_json"
        await agent.close()

    run(scenario())


def test_refused_citizen_is_closed_and_cannot_reconnect(room, moderator, citizen):
    async def scenario():
        agent, guest = await seated(room.slug, moderator.pid, citizen.pid)
        await agent.send({"type": "lobby.refuse", "pid": str(citizen.pid)})
        await guest.expect("lobby.refused")
        assert await guest.closed_with() == 4403
        assert (await agent.expect("lobby.left"))["participant"]["status"] == "refused"
        again = await Client(room.slug, citizen.pid).connect()
        assert await again.closed_with() == 4403
        await agent.close()

    run(scenario())


def test_remove_and_end_for_all(room, moderator, citizen, structure_a):
    from tests import factories

    other = factories.member(structure_a)
    from rooms import presence

    second = presence.enter_as_guest(room, "Interprète")
    citizen.status = second.status = "admitted"
    citizen.save()
    second.save()

    async def scenario():
        # One after the other: each hears of the later ones' arrival.
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        guest = await Client(room.slug, citizen.pid).connect()
        await guest.greeted()
        interpreter = await Client(room.slug, second.pid).connect()
        await interpreter.greeted()
        await agent.expect("participant.joined")
        await agent.expect("participant.joined")
        await guest.expect("participant.joined")
        await agent.send({"type": "mod.remove", "pid": str(citizen.pid)})
        await guest.expect("removed")
        # Its own departure, broadcast after the close order, may still reach the citizen.
        assert await guest.closed_with(ignore=["participant.left"]) == 4403
        assert (await interpreter.expect("participant.left"))["participant"]["pid"] == str(citizen.pid)
        assert (await agent.expect("participant.left"))["participant"]["pid"] == str(citizen.pid)
        await agent.send({"type": "mod.end"})
        await interpreter.expect("ended")
        assert await interpreter.closed_with() == 4410
        await agent.expect("ended")

    run(scenario())
    assert set(Participant.objects.filter(room=room).values_list("status", flat=True)) <= {"removed", "left"}
    assert other.pk


def test_reconnect_restores_state_instead_of_lobby(room, moderator, citizen):
    async def scenario():
        agent, guest = await seated(room.slug, moderator.pid, citizen.pid)
        await admit(agent, guest, citizen.pid)
        await guest.send({"type": "hand.set", "raised": True})
        await agent.expect("participant.updated")
        await guest.close()  # network drop
        offline = await agent.expect("participant.updated")
        assert offline["participant"]["online"] is False
        back = await Client(room.slug, citizen.pid).connect()
        state = await back.greeted()
        assert state["you"]["status"] == "admitted" and state["you"]["hand"] is True
        assert (await agent.expect("participant.joined"))["participant"]["online"] is True
        await back.close()
        await agent.close()

    run(scenario())


def test_lock_and_new_password(client, room, moderator):
    old_password = room.password

    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        await agent.send({"type": "room.lock", "locked": True})
        # A moderator is in the room's group and the moderators': it hears of the lock twice.
        assert (await agent.expect("room.locked"))["locked"] is True
        assert (await agent.expect("room.locked"))["locked"] is True
        await agent.send({"type": "room.password"})
        return (await agent.expect("room.password"))["password"]

    new_password = run(scenario())
    assert new_password != old_password and Room.objects.get(pk=room.pk).check_password(new_password)
    response = client.post(f"/r/{room.slug}/", {"name": "Jeanne", "password": new_password}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and "locked the room" in " ".join(response.context["form"].non_field_errors())
    Room.objects.filter(pk=room.pk).update(locked=False)
    assert client.post(f"/r/{room.slug}/", {"name": "Jeanne", "password": old_password}).status_code == 200
    assert client.post(f"/r/{room.slug}/", {"name": "Jeanne", "password": new_password}).status_code == 302
