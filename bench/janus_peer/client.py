"""A small client of Janus's HTTP API (VideoRoom) for aiortc peers.

Each bench client is one Janus session with two handles, as a VideoRoom web page has:
a publisher (its own audio and video, sendonly) and a subscriber to its partner's feed
(Janus offers, the client answers). Asynchronous requests are acknowledged at once and
answered by an event on the session's long poll, matched by transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

PLUGIN = "janus.plugin.videoroom"
_transactions = itertools.count(1)


class JanusError(RuntimeError):
    pass


class Session:
    """A Janus session: requests, and its events read by one long poll."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self._http = http
        self._url = url
        self.id: int | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._poller: asyncio.Task[None] | None = None

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        transaction = str(next(_transactions))
        async with self._http.post(f"{self._url}{path}", json={**body, "transaction": transaction}) as response:
            reply: dict[str, Any] = await response.json(content_type=None)
        if reply.get("janus") == "error":
            raise JanusError(reply["error"])
        return reply

    async def create(self) -> None:
        self.id = (await self._post("", {"janus": "create"}))["data"]["id"]
        self._poller = asyncio.ensure_future(self._poll())

    async def attach(self) -> int:
        reply = await self._post(f"/{self.id}", {"janus": "attach", "plugin": PLUGIN})
        return int(reply["data"]["id"])

    async def request(self, handle: int, body: dict[str, Any]) -> dict[str, Any]:
        """A synchronous plugin request (create a room...): its plugin data."""
        reply = await self._post(f"/{self.id}/{handle}", {"janus": "message", "body": body})
        data: dict[str, Any] = reply["plugindata"]["data"]
        if "error" in data:
            raise JanusError(data["error"])
        return data

    async def message(self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None,
                      timeout: float = 30) -> dict[str, Any]:
        """An asynchronous plugin request: the event that answers it (plugin data and jsep)."""
        transaction = str(next(_transactions))
        future = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = future
        payload: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            payload["jsep"] = jsep
        async with self._http.post(f"{self._url}/{self.id}/{handle}", json=payload) as response:
            reply = await response.json(content_type=None)
        if reply.get("janus") == "error":
            self._waiting.pop(transaction, None)
            raise JanusError(reply["error"])
        event = await asyncio.wait_for(future, timeout)
        data = event.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(data["error"])
        return event

    async def _poll(self) -> None:
        while True:
            try:
                async with self._http.get(f"{self._url}/{self.id}?maxev=10") as response:
                    events = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError):
                await asyncio.sleep(0.2)
                continue
            if isinstance(events, dict) and events.get("janus") == "error":
                # The session is gone (timed out on a starved machine, or destroyed): a poll
                # would fail at once, again and again. Fail what waits on it instead.
                for future in self._waiting.values():
                    if not future.done():
                        future.set_exception(JanusError(str(events.get("error"))))
                self._waiting.clear()
                return
            for event in events if isinstance(events, list) else [events]:
                future = self._waiting.pop(str(event.get("transaction")), None)
                if future is not None and not future.done():
                    future.set_result(event)

    async def destroy(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
        if self.id is not None:
            with contextlib.suppress(aiohttp.ClientError, JanusError):
                await self._post(f"/{self.id}", {"janus": "destroy"})


async def create_room(session: Session, handle: int, room: int) -> None:
    """A room for one appointment, with VideoRoom's defaults (VP8, Opus, no bitrate cap)."""
    await session.request(handle, {"request": "create", "room": room, "publishers": 2})


class JanusClient:
    """One participant: publishes its tracks, subscribes to its partner's feed."""

    def __init__(self, http: aiohttp.ClientSession, url: str, room: int, pid: str,
                 tracks: list[MediaStreamTrack], prepare_sender: Callable[[Any, MediaStreamTrack], None],
                 on_track: Callable[[RTCPeerConnection, MediaStreamTrack], None]) -> None:
        self.session = Session(http, url)
        self.room, self.pid = room, pid
        self._tracks = tracks
        self._prepare_sender = prepare_sender
        self.publisher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.subscriber = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.subscriber.on("track", lambda track: on_track(self.subscriber, track))
        self.feed: int | None = None  # our publisher id in the room

    async def publish(self, create: bool) -> None:
        await self.session.create()
        handle = await self.session.attach()
        if create:
            await create_room(self.session, handle, self.room)
        for track in self._tracks:
            transceiver = self.publisher.addTransceiver(track, direction="sendonly")
            self._prepare_sender(transceiver, track)
        await self.publisher.setLocalDescription(await self.publisher.createOffer())
        offer = self.publisher.localDescription
        event = await self.session.message(
            handle, {"request": "joinandconfigure", "ptype": "publisher", "room": self.room, "display": self.pid,
                     "audio": True, "video": True},
            {"type": offer.type, "sdp": offer.sdp, "trickle": False})
        self.feed = int(event["plugindata"]["data"]["id"])
        jsep = event["jsep"]
        await self.publisher.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"]))

    async def subscribe(self, feed: int) -> None:
        handle = await self.session.attach()
        body = {"request": "join", "ptype": "subscriber", "room": self.room, "streams": [{"feed": feed}]}
        for _ in range(150):  # 30 s: a loaded machine sets connections up slowly
            try:
                event = await self.session.message(handle, body)
                break
            except JanusError as exc:
                # A feed exists for subscribers once its publisher's connection is up.
                if "No such feed" not in str(exc):
                    raise
                await asyncio.sleep(0.2)
        else:
            raise JanusError(f"feed {feed} never became available")
        jsep = event["jsep"]
        await self.subscriber.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"]))
        await self.subscriber.setLocalDescription(await self.subscriber.createAnswer())
        answer = self.subscriber.localDescription
        await self.session.message(handle, {"request": "start"},
                                   {"type": answer.type, "sdp": answer.sdp, "trickle": False})

    async def close(self) -> None:
        await self.publisher.close()
        await self.subscriber.close()
        await self.session.destroy()
