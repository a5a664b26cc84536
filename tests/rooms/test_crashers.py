"""The messages that used to kill a room socket with 1011 and leave a ghost online.

Each is answered with an `error`, the socket stays usable, and closing it afterwards
still marks the participant offline (the disconnect cleanup ran).
"""

import aioice
import aioice.ice
import pytest
from aiortc import RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from media.engine import fast_path
from rooms.models import Participant
from tests.rooms.conftest import Client, hang_up, run

pytestmark = pytest.mark.django_db(transaction=True)


def online(pid) -> bool:
    return Participant.objects.get(pid=pid).online


async def closes_cleanly(client: Client, pid) -> None:
    """Still answering, then a normal close that runs the cleanup."""
    await client.quiet()
    assert await database_sync_to_async(online)(pid)
    await client.close()
    assert not await database_sync_to_async(online)(pid)


def test_deeply_nested_json_from_the_waiting_room(room, citizen):
    async def scenario():
        guest = await Client(room.slug, citizen.pid).connect()
        state = await guest.greeted()
        assert state["you"]["status"] == "waiting"
        await guest.send("[" * 3000)
        assert (await guest.expect("error"))["code"] == "bad_json"
        await guest.send('{"type": "name.set", "name": ' + "[" * 3000 + "]" * 3000 + "}")
        assert (await guest.expect("error"))["code"] == "bad_json"
        await closes_cleanly(guest, citizen.pid)

    run(scenario())


@pytest.fixture
def loopback_ice(monkeypatch):
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4=True, use_ipv6=False: ["127.0.0.1"])


def test_an_offer_whose_sdp_is_repeated_twice(room, citizen, loopback_ice):
    citizen.status = "admitted"
    citizen.save()

    async def scenario():
        pc = RTCPeerConnection()
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        guest = await Client(room.slug, citizen.pid).connect()
        try:
            await guest.greeted()
            await guest.send({"type": "rtc.offer", "sdp": pc.localDescription.sdp * 2})
            error = await guest.expect("error", timeout=15)
            assert error["code"] == "bad_sdp" and error["ref"] == "rtc"
            await closes_cleanly(guest, citizen.pid)
        finally:
            await hang_up(pc)

    run(scenario())


def test_a_send_before_ice_nomination_is_the_connection_error_aiortc_expects():
    # aiortc's senders catch ConnectionError (not connected yet); an AttributeError escaped
    # them as "Task exception was never retrieved".
    async def scenario():
        connection = aioice.Connection(ice_controlling=True)
        send = fast_path._sender(connection, gso=False, receivers=[])
        try:
            with pytest.raises(ConnectionError):
                await send(b"\x80" * 20)
            with pytest.raises(ConnectionError):  # the same on every try, not only the first
                await send(b"\x80" * 20)
        finally:
            await connection.close()

    async_to_sync(scenario)()


def test_a_name_with_a_nul_byte_or_a_lone_surrogate(room, citizen):
    # Found by the fuzz (test_signalling_fuzz.py): PostgreSQL refused the name, the handler
    # failed. Refused at the protocol now, with what is wrong.
    async def scenario():
        guest = await Client(room.slug, citizen.pid).connect()
        await guest.greeted()
        for name in ("Jeanne\u0000", "Jeanne \udbb8", "Jeanne\nDupont"):
            await guest.send({"type": "name.set", "name": name})
            error = await guest.expect("error")
            assert error["code"] == "bad_field" and "control characters" in error["message"]
        await closes_cleanly(guest, citizen.pid)

    run(scenario())
    assert Participant.objects.get(pid=citizen.pid).name == "Jeanne Dupont"


def test_a_message_to_a_socket_that_closed_meanwhile_does_not_end_the_consumer():
    """Daphne raises on a send to a closed socket (a pong racing the browser's close): the
    consumer carries on to the disconnect Daphne delivers next, which marks it offline."""
    from autobahn.exception import Disconnected

    from rooms.consumers import RoomConsumer

    async def closed(message):
        raise Disconnected("Attempt to send on a closed protocol")

    consumer = RoomConsumer()
    consumer.base_send = closed
    run(consumer._send({"type": "pong"}))  # no exception
