"""The waiting room's prepared connection and the answer that carries the room's tracks (issue 21).

Real aiortc peers on loopback. A participant waiting in the lobby has its connection made
(ICE, DTLS) but no media either way until it is admitted: its browser may send (this
test's peer does, with real tracks), the engine forwards none of it, and sends it nothing.
Admitted, it receives the room on the receive-only m-lines it offered, without another
offer round.
"""

from __future__ import annotations

import asyncio

import pytest

from media.engine import UnknownPeerError, packet_path
from tests.waiting import stays_true_for_async, wait_until_async

from .clients import COLORS, Room, colour_close, run


def test_a_waiting_participant_receives_no_rtp_and_its_packets_are_not_forwarded() -> None:
    async def body() -> None:
        room = Room()
        try:
            alice = await room.join("alice", slots=2)
            carol = await room.wait("carol", slots=2)  # sends audio and video from the start
            await wait_until_async(lambda: carol.pc.connectionState == "connected", 15,
                                   what="the waiting participant's connection to be made (ICE, DTLS)")
            waiting = room.engine._waiting[room.room]["carol"]
            # The engine reads what carol sends (her publications count her packets) ...
            await wait_until_async(lambda: all(p.stats.received > 20 for p in waiting.publications.values()), 15,
                                   what="the engine to receive carol's audio and video")
            # ... and for a while: nothing reaches carol, nothing of carol reaches alice.
            await stays_true_for_async(
                lambda: carol.rtp_in == 0 and alice.rtp_in == 0 and alice.tracks == {}
                and all(r.frames == 0 for r in alice.received.values())
                and all(p.forwards == [] for p in waiting.publications.values()),
                2.0, what="no RTP to the waiting participant and none of hers forwarded")
            assert carol.tracks == {} and carol.offers_answered == 0 and alice.offers_answered == 0
            assert room.engine.stats()["peers"] == 1  # the waiting one is not in the room
        finally:
            await room.close()

    run(body)


def test_admitted_the_prepared_participant_gets_the_room_on_its_slots_without_an_offer() -> None:
    async def body() -> None:
        room = Room()
        try:
            alice = await room.join("alice", slots=2)
            carol = await room.wait("carol", slots=2)
            await wait_until_async(lambda: carol.pc.connectionState == "connected", 15,
                                   what="the waiting participant's connection")
            reply = await room.engine.admit(room.room, "carol")
            carol.tracks = reply["tracks"]
            # Alice's audio and video, on two of the m-lines carol offered: no offer round for her.
            assert sorted(t["kind"] for t in reply["tracks"].values() if t["participant_id"] == "alice") == [
                "audio", "video"]
            slot_mids = {t.mid for t in carol.pc.getTransceivers() if t.direction == "recvonly"}
            assert set(reply["tracks"]) <= slot_mids
            await wait_until_async(lambda: carol.frames_from("alice", "video") > 3
                                   and carol.frames_from("alice", "audio") > 3, 15,
                                   what="carol to receive alice's audio and video")
            assert colour_close(carol.colour_from("alice"), COLORS["alice"])
            assert carol.offers_answered == 0
            # Those in the call learn of her as before: a server offer with the tracks map.
            await wait_until_async(lambda: alice.frames_from("carol", "video") > 3, 15,
                                   what="alice to receive carol's video once admitted")
            assert alice.offers_answered == 1
        finally:
            await room.close()

    run(body)


def test_the_first_answer_carries_the_tracks_already_in_the_room() -> None:
    async def body() -> None:
        room = Room()
        try:
            alice = await room.join("alice")  # no slots: alice gets bob's tracks through an offer
            bob = await room.join("bob", slots=1)
            assert {(t["participant_id"], t["kind"]) for t in bob.tracks.values()} == {
                ("alice", "audio"), ("alice", "video")}
            await wait_until_async(lambda: bob.frames_from("alice", "video") > 3
                                   and alice.frames_from("bob", "video") > 3, 15,
                                   what="each to receive the other's video")
            assert bob.offers_answered == 0 and alice.offers_answered == 1
            # A third with no free slot left at bob: bob gets an offer for it, as before.
            await room.join("carol")
            await wait_until_async(lambda: bob.frames_from("carol", "video") > 3, 15,
                                   what="bob to receive the third one's video through an offer")
            assert bob.offers_answered == 1
        finally:
            await room.close()

    run(body)


def test_admit_without_a_prepared_connection_is_refused_and_leave_drops_one() -> None:
    async def body() -> None:
        room = Room()
        try:
            with pytest.raises(UnknownPeerError):
                await room.engine.admit(room.room, "nobody")
            await room.wait("carol", slots=1)
            peer = room.engine._waiting[room.room]["carol"]
            await room.engine.leave(room.room, "carol")
            assert room.engine._waiting == {} and peer.closed and peer.pc.connectionState == "closed"
        finally:
            await room.close()

    run(body)


@pytest.mark.parametrize("replay_age", [packet_path.KEYFRAME_REPLAY_AGE, 0.0])
def test_admitted_after_the_keyframe_asked_for_at_the_click_it_starts_there(monkeypatch, replay_age) -> None:
    """The admission click asks the room's publishers for a keyframe (request_keyframes);
    the guest admitted a moment later starts at that keyframe, sent again from the history,
    with no second PLI. A keyframe older than KEYFRAME_REPLAY_AGE (0 here) is not replayed:
    the forward asks for a new one."""
    monkeypatch.setattr(packet_path, "KEYFRAME_REPLAY_AGE", replay_age)

    async def body() -> None:
        room = Room()
        try:
            await room.join("alice", slots=2)
            carol = await room.wait("carol", slots=2)
            await wait_until_async(lambda: carol.pc.connectionState == "connected", 15,
                                   what="the waiting participant's connection")
            video = room.engine._rooms[room.room]["alice"].publications["video"]
            await wait_until_async(lambda: video.stats.received > 30, 15, what="alice's video at the engine")
            asked = video.keyframe_requests
            room.engine.request_keyframes(room.room)
            assert video.keyframe_requests == asked + 1  # nobody asked in the last 500 ms: at once
            before = video._keyframe
            await wait_until_async(lambda: video._keyframe != before, 5, what="alice's keyframe in answer")
            reply = await room.engine.admit(room.room, "carol")
            carol.tracks = reply["tracks"]
            await wait_until_async(lambda: carol.frames_from("alice", "video") > 3, 15,
                                   what="carol to receive alice's video")
            await asyncio.sleep(0.6)  # a request deferred by the 500 ms PLI limit would be sent by now
            if replay_age:
                assert video.keyframe_requests == asked + 1
            else:
                assert video.keyframe_requests >= asked + 2
        finally:
            await room.close()

    run(body)
