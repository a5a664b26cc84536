"""The Media Stream WebSocket: a phone in a room's lobby and call.

Nothing happens before a valid `start`: its token (rooms/phone/calls.py `claim`) must be
unused, unexpired and this CallSid's; anything else closes the socket (no participant, no
audio either way). Then the phone is a participant like any other: it waits (hearing the
lobby's chime), the agent admits, refuses, mutes, sends back or removes it through the
same room actions as for a browser (rooms/actions.py, the consumer's moderator messages:
this consumer answers the same group events as a browser's socket). Hanging up leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from media.engine import MediaError
from media.phone.bridge import PhoneLeg
from rooms import actions, leases, lobby, presence
from rooms.dbcall import db
from rooms.groups import forward, mods_group, personal_group, room_group
from rooms.journey import announce_async
from rooms.mediabridge import media
from rooms.phone import calls, stream
from rooms.protocol import CloseCode

log = logging.getLogger("rooms.phone")

MARK_EVERY = 25  # frames (0.5 s) between marks: Twilio echoes each once played
MAX_BACKLOG = 4  # marks not yet played (2 s queued at Twilio): clear it, the call is lagging
NODE_SILENT_S = 4.0  # no mix from the room's media node for this long: the node is gone


class PhoneStreamConsumer(AsyncWebsocketConsumer):
    pid: str = ""
    stream_sid: str = ""
    tail: str = ""
    status: str = lobby.Status.WAITING
    leg: PhoneLeg | None = None
    groups_joined: tuple[str, ...] = ()
    malformed = 0

    async def connect(self) -> None:
        self.keypad = stream.Keypad()
        self.marks_sent = self.marks_played = 0
        self.frames_out = 0
        self.echoes_marks = False
        await self.accept()
        self.watchdog = asyncio.get_running_loop().call_later(settings.PHONE_START_SECONDS, self._no_start)

    def _no_start(self) -> None:
        if not self.pid:
            log.info("phone stream: no valid start in %.0f s, closed", settings.PHONE_START_SECONDS)
            asyncio.ensure_future(self.close(CloseCode.REFUSED.value))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            event = stream.parse(text_data)
        except stream.StreamError as error:
            self.malformed += 1
            if self.malformed in (1, 100):
                log.info("phone stream: dropped a message (%s)", error)
            return
        if not self.pid:
            if event.kind == "start":
                await self._start(event)
            elif event.kind != "connected":
                await self.close(CloseCode.REFUSED.value)  # audio before a valid start: nobody to give it to
            return
        if event.kind == "media":
            if self.leg is not None:
                self.leg.feed(event.audio)
        elif event.kind == "dtmf":
            if self.keypad.press(event.digit):
                await self._toggle_mute()
        elif event.kind == "mark":
            self.echoes_marks = True
            self.marks_played += 1
        elif event.kind == "stop":
            await self._leave()  # hung up
            await self.close()

    # --- entering ---
    async def _start(self, event: stream.Event) -> None:
        call = await db(calls.claim)(event.token, event.call_sid)
        if call is None:
            log.info("phone stream refused: token missing, used, expired or not this call's")
            await self.close(CloseCode.REFUSED.value)
            return
        decision, participant = await db(calls.enter)(call)
        if participant is None or decision.status is None:
            log.info("phone stream refused by the room's rules: %s", decision.refusal)
            await self.close(CloseCode.REFUSED.value)
            return
        self.watchdog.cancel()
        self.room = call.room
        self.slug = self.room.slug
        self.pid = str(participant.pid)
        self.stream_sid = event.stream_sid
        self.tail = f"··{call.number_tail}"
        participant = await db(presence.connect)(participant, decision.status, process=leases.PROCESS,
                                                 channel=self.channel_name)
        leases.attach(self.channel_name)
        await self._join_group(personal_group(self.pid))
        self.leg = PhoneLeg(self.pid, self._send_audio)
        self.leg.start()  # the chime while waiting
        seconds = max(0.0, (calls.deadline(self.room) - timezone.now()).total_seconds())
        self.cutoff = asyncio.get_running_loop().call_later(seconds, lambda: asyncio.ensure_future(self._cut()))
        await announce_async(self.room, "connected")
        await self._broadcast(mods_group(self.slug), {"type": "lobby.waiting", "participant": participant.as_dict()})
        if call.direction == call.Direction.OUT:
            await actions.admit(self.room, self.pid)  # the agent called: already invited

    async def _cut(self) -> None:
        log.info("phone call %s cut: past the appointment's end and margin", self.pid)
        await self._leave()
        await self.close()

    # --- the room's events (the same a browser's socket gets) ---
    async def control_admitted(self, event: dict) -> None:
        if not self.pid or self.status == lobby.Status.ADMITTED:
            return
        self.status = lobby.Status.ADMITTED
        await self._join_group(room_group(self.slug))
        await self.send(text_data=stream.outgoing_clear(self.stream_sid))  # the chime stops at once
        assert self.leg is not None
        if not await self._attach():
            return
        if self.leg is not None and self.leg.relay is not None:  # the leg is on a media node
            self.node_heard = asyncio.get_running_loop().time()
            self.node_watch = asyncio.ensure_future(self._watch_node())

    async def _attach(self) -> bool:
        """The phone's audio into the room's media; if it cannot, the call ends (Twilio then
        says "Votre appel est terminé. Au revoir.") and the phone leaves the room: nobody is
        left in the call without audio, and the agents are told why."""
        assert self.leg is not None
        try:
            await media().attach_phone(self.slug, self.leg, self.channel_name)
        except MediaError as error:
            log.error("phone %s admitted but its audio cannot join the room: %s", self.pid, error)
            await self._broadcast(mods_group(self.slug), {"type": "phone.status", "status": "failed",
                                                          "number": self.tail})
            await self._leave()
            await self.close()
            return False
        self.leg.attached = True
        return True

    async def _watch_node(self) -> None:
        """The room's node stopped sending the mix (it died): attach again, which places the
        room on a live node as the browsers' new offers do; if none can take it, end the call."""
        loop = asyncio.get_running_loop()
        while self.leg is not None and self.leg.relay is not None:
            await asyncio.sleep(1)
            if self.leg is None or self.leg.relay is None or loop.time() - self.node_heard < NODE_SILENT_S:
                continue
            log.warning("phone %s: no audio from its media node for %.0f s, attaching again", self.pid,
                        loop.time() - self.node_heard)
            self.node_heard = loop.time()
            self.leg.attached = False
            if not await self._attach():
                return

    async def phone_audio(self, event: dict) -> None:
        """20 ms of the room's mix from the leg on the media node."""
        if self.leg is not None and self.leg.relay is not None:
            self.node_heard = asyncio.get_running_loop().time()
            await self._send_audio(event["audio"])

    async def control_returned(self, event: dict) -> None:
        if not self.pid or self.status != lobby.Status.ADMITTED:
            return
        self.status = lobby.Status.WAITING
        await self._detach()
        await self.channel_layer.group_discard(room_group(self.slug), self.channel_name)
        self.groups_joined = tuple(g for g in self.groups_joined if g != room_group(self.slug))

    async def control_close(self, event: dict) -> None:
        # Refused, removed, the meeting ended, another device: the stream ends, Twilio hangs up.
        if self.pid:
            await self._detach()
            pid, self.pid = self.pid, ""
            await db(presence.disconnect)(pid, self.channel_name)
            await self._cleanup()
        await self.close()

    async def control_idcheck(self, event: dict) -> None:
        pass  # a phone has no camera: the agent's page never offers it

    async def control_idcheck_cancel(self, event: dict) -> None:
        pass

    async def layer_recovered(self, event: dict) -> None:
        pass

    async def client_forward(self, event: dict) -> None:
        # What a browser would show; a phone acts on the agent's mute only.
        if event["message"].get("type") == "mod.muted" and self.leg is not None:
            self.leg.muted = True

    async def _toggle_mute(self) -> None:
        assert self.leg is not None
        self.leg.muted = not self.leg.muted
        participant = await db(presence.update_flags)(self.pid, audio=not self.leg.muted)
        group = room_group(self.slug) if self.status == lobby.Status.ADMITTED else mods_group(self.slug)
        await self._broadcast(group, {"type": "participant.updated", "participant": participant.as_dict()})

    # --- audio to Twilio ---
    async def _send_audio(self, mulaw: bytes) -> None:
        await self.send(text_data=stream.outgoing_media(self.stream_sid, mulaw))
        self.frames_out += 1
        if self.frames_out % MARK_EVERY == 0:
            self.marks_sent += 1
            await self.send(text_data=stream.outgoing_mark(self.stream_sid, str(self.marks_sent)))
            if self.echoes_marks and self.marks_sent - self.marks_played > MAX_BACKLOG:
                await self.send(text_data=stream.outgoing_clear(self.stream_sid))
                self.marks_played = self.marks_sent

    # --- leaving ---
    async def disconnect(self, code: int) -> None:
        await self._leave()

    async def _leave(self) -> None:
        """Hung up, cut, or the socket dropped: a phone has no way back, it left (once)."""
        leases.detach(self.channel_name)
        with contextlib.suppress(Exception):
            self.watchdog.cancel()
        if hasattr(self, "cutoff"):
            self.cutoff.cancel()
        await self._detach()
        if self.pid:
            pid, self.pid = self.pid, ""
            try:
                participant = await db(calls.leave)(pid)
                if participant is not None:
                    await actions.gone(participant)
            except Exception:
                log.exception("phone stream: could not record that %s left", pid)
        await self._cleanup()

    async def _detach(self) -> None:
        watch = getattr(self, "node_watch", None)
        if watch is not None and watch is not asyncio.current_task():
            watch.cancel()
        if self.leg is not None and self.leg.attached:
            self.leg.attached = False
            with contextlib.suppress(MediaError):
                await media().detach_phone(self.slug, self.leg.participant_id)

    async def _cleanup(self) -> None:
        for group in self.groups_joined:
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = ()
        if self.leg is not None:
            leg, self.leg = self.leg, None
            await leg.close()

    async def _join_group(self, group: str) -> None:
        self.groups_joined = (*self.groups_joined, group)
        await self.channel_layer.group_add(group, self.channel_name)

    async def _broadcast(self, group: str, message: dict) -> None:
        await self.channel_layer.group_send(group, forward(message))
