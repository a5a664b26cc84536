"""ID check during a call: the agent asks, the citizen accepts, the server reads the card
from the citizen's live video (aiortc client sending a synthetic card), only an audit line stays."""

import asyncio
import fractions

import aioice.ice
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from av import VideoFrame

from media.idcheck.formats import MrzFormat
from media.idcheck.synthetic import make_card, render_frame
from portal.models import Appointment
from rooms.models import IdentityCheck
from tests.rooms.conftest import Client, run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch):
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4=True, use_ipv6=False: ["127.0.0.1"])


class CardCamera(VideoStreamTrack):
    """A webcam pointed at an ID card: the same picture, slightly tilted, 10 fps."""

    def __init__(self, image):
        super().__init__()
        self.image, self.count = image, 0

    async def recv(self):
        await asyncio.sleep(0.1)  # the camera's frame rate (the scenario), not a wait before an assertion
        frame = VideoFrame.from_ndarray(self.image, format="bgr24")
        frame.pts, frame.time_base = self.count, fractions.Fraction(1, 10)
        self.count += 1
        return frame


async def join_media(client: Client, track) -> RTCPeerConnection:
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(track)
    await pc.setLocalDescription(await pc.createOffer())
    await client.send({"type": "rtc.offer", "sdp": pc.localDescription.sdp})
    answer = await client.expect("rtc.answer", timeout=10)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    return pc


async def in_the_room(room, moderator, citizen) -> tuple[Client, Client]:
    """The agent, then the (admitted) citizen, connected; their greetings read."""
    agent = await Client(room.slug, moderator.pid).connect()
    await agent.greeted()
    guest = await Client(room.slug, citizen.pid).connect()
    await guest.greeted()
    await agent.expect("participant.joined")
    return agent, guest


@pytest.fixture
def card_citizen(room, citizen):
    card = make_card(MrzFormat.TD1, seed=7)
    Appointment.objects.filter(pk=room.appointment_id).update(
        citizen_first_name=card.given_names.split()[0], citizen_last_name=card.surname)
    citizen.status = "admitted"
    citizen.save()
    return card


def test_agent_reads_the_card_and_only_an_audit_line_is_kept(room, moderator, citizen, card_citizen, alice):
    card = card_citizen

    async def scenario():
        agent, guest = await in_the_room(room, moderator, citizen)
        pc = await join_media(guest, CardCamera(render_frame(card, seed=3, rotation=2.0)))
        try:
            await agent.send({"type": "idcheck.start", "pid": str(citizen.pid)})
            request = await guest.expect("idcheck.requested")
            assert request["by"] == "Alice Agent"
            assert (await agent.expect("idcheck.status"))["state"] == "requested"
            await guest.send({"type": "idcheck.accept"})
            assert (await agent.expect("idcheck.status"))["state"] == "running"
            result = await agent.expect("idcheck.result", timeout=40)
            ended = await guest.expect("idcheck.ended", timeout=5)
            return result, ended
        finally:
            await pc.close()
            await agent.close()
            await guest.close()

    result, ended = run(scenario())
    assert result["outcome"] == "verified", result
    assert result["surname"] == card.mrz_surname and result["check_digits_valid"] and result["name_matches"]
    assert result["document_number"] == card.document_number and not result["expired"]
    assert result["still"].startswith("data:image/jpeg;base64,")
    assert ended["outcome"] == "verified"
    audit = IdentityCheck.objects.get()
    assert (audit.outcome, audit.document_type, audit.number_last4, audit.checked_by) == (
        "verified", "ID", card.document_number[-4:], alice)
    # The audit row is all that is stored: no image, no name, no full number anywhere in it.
    stored = " ".join(str(v) for v in IdentityCheck.objects.values().get().values())
    assert card.document_number not in stored and card.mrz_surname not in stored


def test_citizen_refuses_and_the_agent_sees_it(room, moderator, citizen, card_citizen):
    async def scenario():
        agent, guest = await in_the_room(room, moderator, citizen)
        await agent.send({"type": "idcheck.start", "pid": str(citizen.pid)})
        await guest.expect("idcheck.requested")
        await guest.send({"type": "idcheck.refuse"})
        states = [(await agent.expect("idcheck.status"))["state"] for _ in range(2)]
        await guest.send({"type": "idcheck.accept"})  # nothing pending any more
        error = await guest.expect("error")
        await agent.close()
        await guest.close()
        return states, error

    states, error = run(scenario())
    assert states == ["requested", "refused"] and error["code"] == "no_idcheck"
    assert IdentityCheck.objects.get().outcome == "refused"


def test_no_video_ends_unreadable_not_a_crash(room, moderator, citizen, card_citizen):
    async def scenario():
        agent, guest = await in_the_room(room, moderator, citizen)
        await agent.send({"type": "idcheck.start", "pid": str(citizen.pid)})
        await guest.expect("idcheck.requested")
        assert (await agent.expect("idcheck.status"))["state"] == "requested"
        await guest.send({"type": "idcheck.accept"})  # but it never sent any media
        assert (await agent.expect("idcheck.status"))["state"] == "running"
        result = await agent.expect("idcheck.result", timeout=10)
        assert (await guest.expect("idcheck.ended"))["outcome"] == "unreadable"
        await agent.send({"type": "ping"})
        await agent.expect("pong")
        await agent.close()
        await guest.close()
        return result

    result = run(scenario())
    assert result["outcome"] == "unreadable" and result["still"] == ""
    assert IdentityCheck.objects.get().outcome == "unreadable"
