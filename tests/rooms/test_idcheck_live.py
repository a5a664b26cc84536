"""ID check during a call: the agent asks, the citizen accepts, the server reads the card
from the citizen's live video (aiortc client sending a synthetic card), only an audit line stays."""

import asyncio
import fractions
import itertools

import aioice.ice
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from asgiref.sync import sync_to_async
from av import VideoFrame

from media.idcheck.formats import MrzFormat
from media.idcheck.guidance import Hint
from media.idcheck.synthetic import make_card, render_frame
from media.nodes.registry import NodeRegistry
from portal.models import Appointment
from rooms.models import IdentityCheck
from tests.rooms.conftest import Client, run, seated
from tests.rooms.test_media_nodes import REDIS_URL, media_nodes, remote_media, wait_for_nodes  # noqa: F401 (fixture)

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


def mirrored(frame):
    """As a front camera sends it."""
    return np.ascontiguousarray(frame[:, ::-1])


class MovingCardCamera(CardCamera):
    """A front camera; the citizen holds the card far away until `move_closer()`."""

    def __init__(self, far, near):
        super().__init__(far)
        self.near = near

    def move_closer(self) -> None:
        self.image = self.near


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
    agent, guest = await seated(room.slug, moderator.pid, citizen.pid)
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
            # Live guidance (idcheck.hint) comes to both while it reads: not this test's subject.
            result = await agent.expect("idcheck.result", timeout=40, ignore=("idcheck.hint",))
            ended = await guest.expect("idcheck.ended", timeout=5, ignore=("idcheck.hint",))
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


def test_a_second_request_while_a_check_runs_says_busy_and_asks_nobody_again(room, moderator, citizen, card_citizen):
    async def scenario():
        agent, guest = await in_the_room(room, moderator, citizen)
        wall = np.full((480, 640, 3), 200, np.uint8)  # no card yet: the check reads on
        pc = await join_media(guest, CardCamera(wall))
        try:
            await agent.send({"type": "idcheck.start", "pid": str(citizen.pid)})
            await guest.expect("idcheck.requested")
            await guest.send({"type": "idcheck.accept"})
            hints = ("idcheck.hint",)  # live guidance ("show the card") meanwhile: not this test's subject
            states = [(await agent.expect("idcheck.status", ignore=hints))["state"] for _ in range(2)]
            await agent.send({"type": "idcheck.start", "pid": str(citizen.pid)})  # a second click, a second agent
            states.append((await agent.expect("idcheck.status", ignore=hints))["state"])
            await agent.send({"type": "idcheck.cancel", "pid": str(citizen.pid)})
            states.append((await agent.expect("idcheck.status", ignore=hints))["state"])
            # The citizen saw one request and its end, not the second request.
            seen = [(await guest.expect("idcheck.ended", ignore=hints))["outcome"]]
            return states, seen
        finally:
            await pc.close()
            await agent.close()
            await guest.close()

    states, seen = run(scenario())
    assert states == ["requested", "running", "busy", "cancelled"] and seen == ["cancelled"]


def test_a_request_the_citizen_s_connection_cannot_take_is_reported_not_left_waiting(room, moderator, citizen):
    """The database says admitted, the citizen's connection has not heard it yet (the admission
    notice still on its way): the agent is told the citizen cannot be asked, not left waiting."""
    async def scenario():
        agent, guest = await seated(room.slug, moderator.pid, citizen.pid)  # the citizen waits
        await sync_to_async(type(citizen).objects.filter(pk=citizen.pk).update)(status="admitted")
        await agent.send({"type": "idcheck.start", "pid": str(citizen.pid)})
        status = await agent.expect("idcheck.status")
        await guest.send({"type": "ping"})
        after = await guest.expect("pong")  # and no idcheck.requested came before it
        await agent.close()
        await guest.close()
        return status, after

    status, after = run(scenario())
    assert (status["state"], status["pid"]) == ("unavailable", str(citizen.pid)) and after["type"] == "pong"


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


async def guided_check(room, moderator, citizen, card) -> tuple[list[str], list[dict], dict, dict]:
    """The citizen shows the card mirrored and small, moves it closer when told to; returns
    the hints the citizen got, those the agent got, the agent's result and the citizen's end."""
    agent, guest = await in_the_room(room, moderator, citizen)
    camera = MovingCardCamera(mirrored(render_frame(card, seed=3, scale=0.5)),
                              mirrored(render_frame(card, seed=3, rotation=2.0)))
    pc = await join_media(guest, camera)
    try:
        await agent.send({"type": "idcheck.start", "pid": str(citizen.pid)})
        await guest.expect("idcheck.requested")
        assert (await agent.expect("idcheck.status"))["state"] == "requested"
        await guest.send({"type": "idcheck.accept"})
        assert (await agent.expect("idcheck.status"))["state"] == "running"
        told: list[str] = []
        while Hint.CLOSER not in told:  # the scripted citizen waits to be told
            told.append((await guest.expect("idcheck.hint", timeout=20))["hint"])
        camera.move_closer()
        while True:
            message = await guest.recv(40)
            if message["type"] == "idcheck.ended":
                break
            assert message["type"] == "idcheck.hint", message
            told.append(message["hint"])
        ended = message
        seen_by_agent: list[dict] = []
        while True:
            message = await agent.recv(5)
            if message["type"] == "idcheck.result":
                return told, seen_by_agent, message, ended
            assert message["type"] == "idcheck.hint", message
            seen_by_agent.append(message)
    finally:
        await pc.close()
        await agent.close()
        await guest.close()


def assert_guided(told, seen_by_agent, result, ended, citizen) -> None:
    assert Hint.CLOSER in told and set(told) <= {h.value for h in Hint}, told
    # Only changes are sent: never the same hint twice in a row.
    assert all(a != b for a, b in itertools.pairwise(told)), told
    assert result["outcome"] == "verified", result
    assert ended["outcome"] == "verified"
    # The agent saw what the citizen was told, in the same order, about that citizen.
    assert [m["hint"] for m in seen_by_agent] == told
    assert {m["pid"] for m in seen_by_agent} == {str(citizen.pid)}


def test_hints_guide_the_citizen_while_the_card_is_read(room, moderator, citizen, card_citizen):
    """In-process engine: a small mirrored card is asked closer; moved closer, it is read."""
    assert_guided(*run(guided_check(room, moderator, citizen, card_citizen)), citizen)


@pytest.mark.services
def test_hints_travel_from_a_media_node_too(room, moderator, citizen, card_citizen, remote_media):  # noqa: F811
    """MEDIA_NODES=remote: the node sends each hint on the command's reply channel before its
    reply (media.progress); the room consumer relays it as idcheck.hint."""

    async def scenario():
        registry = NodeRegistry(REDIS_URL, prefix=remote_media["MEDIA_REDIS_PREFIX"], max_age=2.0)
        try:
            await wait_for_nodes(registry, "node-g")
            return await guided_check(room, moderator, citizen, card_citizen)
        finally:
            await registry.close()

    with media_nodes(remote_media, ("node-g", 400)):
        outcome = run(scenario())
    assert_guided(*outcome, citizen)
