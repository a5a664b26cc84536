"""The room's signalling WebSocket: parse, check the lobby rules, call the core, broadcast.

Groups: `room.<slug>` (admitted participants), `mods.<slug>` (moderators, for the lobby)
and `p.<pid>` (one participant, for targeted messages from any process). The consumer
keeps only its own connection's state; the room's state lives in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

from asgiref.typing import WebSocketConnectEvent, WebSocketDisconnectEvent
from autobahn.exception import Disconnected
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from media.engine import MediaError
from portal import clientaddress
from rooms import actions, admission, chat, handshake, leases, lobby, presence, services
from rooms.dbcall import db, handshake_threads
from rooms.groups import forward, mods_group, personal_group, room_group, session_group, user_group
from rooms.ice import ice_servers_for
from rooms.journey import announce_async
from rooms.layer import is_down
from rooms.mediabridge import MediaUnavailable, media, spawn
from rooms.notes.consumer import NotesHandlers
from rooms.protocol import CloseCode, ProtocolError, parse
from rooms.ratelimit import Limiter

log = logging.getLogger("rooms.signalling")


def _offer_number(message: dict) -> dict:
    """The browser's number of the offer being answered (PROTOCOL.md, `rtc.answer`)."""
    return {"n": message["n"]} if "n" in message else {}


class RoomConsumer(NotesHandlers, AsyncWebsocketConsumer):
    slug: str
    pid: str = ""  # set once connected; the handlers run only after that
    role: str = lobby.Role.GUEST
    status: str = lobby.Status.WAITING
    groups_joined: tuple[str, ...] = ()
    idcheck_request: dict | None = None  # the agent's pending request to this participant
    idcheck_task: asyncio.Task | None = None
    limiter: Limiter  # this connection's token buckets (rooms/ratelimit.py)
    replay: list[dict] | None = None  # the chat to replay once connected, read by the handshake
    # The waiting room's connection (rtc.prepare) is made on the media engine: admitted, it
    # goes into the call as it is. `audio_only`: what this browser asked to receive.
    prepared: bool = False
    audio_only: bool = False

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Daphne kills a consumer that does not end within its application_close_timeout
            # (a starved process): disconnect() never ran. Its lease is no longer renewed (the
            # sweep then takes it for lost, no ghost) and its groups are left, so the group
            # messages stop piling up in this process's buffers for a channel nobody reads.
            channel = getattr(self, "channel_name", "")
            if channel:
                leases.detach(channel)
                if self.groups_joined:
                    groups, self.groups_joined = self.groups_joined, ()
                    spawn(self._leave_groups(groups), name=f"leave groups of {channel}")

    async def dispatch(self, message: dict) -> None:
        """Channels' dispatch, without its `aclose_old_connections()` before every handler:
        that is a hop to the process's one thread-sensitive thread (where Django's views run)
        for each message of each socket, client's and group's alike, to close that thread's
        connections, which this consumer never uses (rooms/dbcall.py closes its own). On the
        survivor of a killed Daphne, every handshake, chat and ping queued behind that thread."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message: WebSocketDisconnectEvent) -> None:
        # As Channels' (no `groups` class attribute here: _join_groups/_leave_groups), less
        # its thread hop (see dispatch).
        await self.disconnect(message["code"])
        raise StopConsumer()

    # --- admission (rooms/admission.py gates the count; here: bounded in time, then replay) ---
    async def websocket_connect(self, message: WebSocketConnectEvent) -> None:
        try:
            async with asyncio.timeout(settings.ROOM_HANDSHAKE_TIMEOUT) as self._deadline:
                await super().websocket_connect(message)
        except TimeoutError:
            self._deadline = None
            # Bounded work per handshake: one that waited this long is refused, not queued on.
            log.warning("room socket handshake over %.0f s: refused as busy (room=%s)",
                        settings.ROOM_HANDSHAKE_TIMEOUT, getattr(self, "slug", "?"))
            await self._refuse_busy(admission.ADMISSION.retry_after())
            return
        self._deadline = None
        await self._replay_chat()

    async def _refuse_busy(self, retry_after: int) -> None:
        log.info("room socket refused: busy, retry in %d s", retry_after)
        if self.pid:  # presence.connect ran: undo it as a disconnect would
            with contextlib.suppress(Exception):
                await self.disconnect(CloseCode.BUSY)
            self.pid = ""
        if not self.accepted:
            await self.accept()  # accept first so the browser gets the close code and its hint
        # The hint goes in a message: Daphne drops a close frame's reason.
        await self._send({"type": "busy", "retry_after": retry_after})
        await self.close(CloseCode.BUSY)

    accepted = False
    _deadline: asyncio.Timeout | None = None

    async def accept(self, subprotocol=None, headers=None) -> None:
        self.accepted = True
        if self._deadline is not None:
            # The bounded part is over: what follows (the state, telling the room) is what any
            # message does. Refused past this point, a socket already told its state was
            # closed BUSY, its whole handshake wasted and redone (with production's 3 s, on
            # the survivor of a killed Daphne: bench/signalling_load.py counted it as a drop).
            self._deadline.reschedule(None)
        await super().accept(subprotocol, headers)

    async def close(self, code=None, reason=None) -> None:
        # Daphne's autobahn refuses anything but an exact int (a CloseCode raised there, so
        # the browser got 1011 or a reset instead of the decision).
        await super().close(code.value if isinstance(code, CloseCode) else code, reason)

    # --- connection ---
    async def connect(self) -> None:
        """Two database calls (rooms/handshake.py) with the groups subscribed in one round
        trip between them: who this is and online, then what it is told first."""
        self.limiter = Limiter()
        self.slug = self.scope["url_route"]["kwargs"]["slug"]
        session_key = self.scope.get("cookies", {}).get(settings.SESSION_COOKIE_NAME)
        lane = handshake_threads()  # not behind the open sockets' messages (rooms/dbcall.py)
        decision, participant = await db(handshake.enter, lane)(self.slug, session_key, process=leases.PROCESS,
                                                                channel=self.channel_name)
        if participant is None:
            refusal = decision.close_code
            log.info("room socket refused: room=%s code=%s network=%s", self.slug, refusal,
                     clientaddress.for_log(clientaddress.from_scope(self.scope)))
            await self.accept()  # accept first so the browser gets the close code
            await self.close(refusal)
            return
        self.room = participant.room
        self.pid = str(participant.pid)
        self.role = participant.role
        self.status = participant.status
        leases.attach(self.channel_name)  # online with a lease this process renews (rooms/leases.py)
        try:
            # Subscribe before reading the state: once the browser has it, it misses nothing.
            groups = [personal_group(self.pid)]
            if participant.user_id is not None:
                # A member's socket closes when their session is closed or they are deactivated
                # (portal/accounts/sessions.py).
                groups.append(user_group(participant.user_id))
                if session_key:
                    groups.append(session_group(session_key))
            if self.role == lobby.Role.MODERATOR:
                groups.append(mods_group(self.slug))
            if self.status == lobby.Status.ADMITTED:
                groups.append(room_group(self.slug))
            await self._join_groups(groups)
            greeting = await db(handshake.greet, lane)(self.room, self.pid)
            if self.status != lobby.Status.ADMITTED and greeting.status == lobby.Status.ADMITTED:
                # Admitted before this socket heard its personal group: the call's group, then
                # the state again (what the call said meanwhile is in it).
                self.status = lobby.Status.ADMITTED
                await self._join_groups([room_group(self.slug)])
                greeting = await db(handshake.greet, lane)(self.room, self.pid)
        except Exception as error:
            if not is_down(error):
                raise
            # Redis is unreachable: the browser comes back in a moment (UNAVAILABLE), its place
            # kept for the grace by disconnect(), which the close runs.
            log.warning("room socket: channel layer down, closing with UNAVAILABLE (room=%s)", self.slug)
            await self.accept()
            await self.close(int(CloseCode.UNAVAILABLE))  # autobahn takes a plain int
            return
        await self.accept()
        await announce_async(self.room, "connected")
        await self._send_state(greeting.state)
        you = greeting.state["you"]
        self.audio_only = bool(you.get("audio_only"))
        if self.status == lobby.Status.ADMITTED:
            self.replay = greeting.replay  # sent once connected (websocket_connect)
            await self._broadcast(room_group(self.slug), {"type": "participant.joined", "participant": you})
        else:
            await self._broadcast(mods_group(self.slug), {"type": "lobby.waiting", "participant": you})
            await self._send({"type": "lobby.info", **(greeting.queue or {})})

    async def disconnect(self, code: int) -> None:
        # Every step runs even if one before it failed: a half cleanup leaves a ghost online.
        leases.detach(self.channel_name)  # no longer renewed, whatever happens below
        async with self._step("stop the ID check"):
            await self._stop_idcheck()  # no frame is read once the citizen is gone
        if self.groups_joined:
            async with self._step(f"leave groups {self.groups_joined}"):
                await self._leave_groups(self.groups_joined)
        self.groups_joined = ()
        if not self.pid:
            return
        async with self._step("leave the media engine"):
            await self._drop_media()
        participant = None
        async with self._step("mark offline"):
            participant = await db(presence.disconnect)(self.pid, self.channel_name)
        if participant is not None and not participant.online:  # else another socket took it over
            async with self._step("tell the room"):
                await actions.lost(participant)  # "connection lost" now; out after the grace

    @contextlib.asynccontextmanager
    async def _step(self, what: str) -> AsyncIterator[None]:
        try:
            yield
        except Exception:
            log.exception("room socket cleanup: could not %s (room=%s pid=%s)", what, self.slug, self.pid)

    # --- incoming ---
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # A binary frame arrives as text_data=None: parse() answers it with a clear error.
        if not self.pid:
            return
        try:
            message = parse(text_data)
        except ProtocolError as error:
            await self._send(error.as_message())
            return
        try:
            lobby.check_message(self.role, self.status, message["type"])
            wait = self.limiter.allow(message["type"])
            if wait is not None:
                raise ProtocolError("rate_limited", f"Too many '{message['type']}' messages: retry in "
                                    f"{wait:.0f} s.", ref=message["type"])
            await getattr(self, "on_" + message["type"].replace(".", "_"))(message)
        except ProtocolError as error:
            await self._send(error.as_message())
        except lobby.LobbyError as error:
            await self._send({"type": "error", "code": error.code, "message": str(error), "ref": message["type"]})
        except MediaUnavailable as error:
            log.warning("media unavailable for room %s: %s", self.slug, error)
            await self._send({"type": "error", "code": "media_unavailable", "message": str(error), "ref": "rtc"})
        except MediaError as error:
            log.info("media error for %s: %s", self.pid, error)
            await self._send({"type": "error", "code": "bad_sdp", "message": str(error), "ref": "rtc"})
        except Exception as error:
            # A bug of ours must not close the socket with 1011 and skip the cleanup: the
            # sender is told, the room carries on, the log keeps the traceback. Redis out of
            # reach is no bug: one line each (a 3 s restart logged 1,142 tracebacks in
            # bench/signalling_load.py); the pages send again what was not acknowledged.
            if is_down(error):
                log.warning("room message %s not handled, Redis unreachable: %s (room=%s pid=%s)",
                            message["type"], error, self.slug, self.pid)
            else:
                log.exception("room message %s failed (room=%s pid=%s)", message["type"], self.slug, self.pid)
            await self._send({"type": "error", "code": "server_error",
                              "message": "The server could not handle this message.", "ref": message["type"]})

    async def on_ping(self, message: dict) -> None:
        await self._send({"type": "pong"})

    async def on_rtc_offer(self, message: dict) -> None:
        # A re-offer (after a reconnect) replaces the old peer connection inside the engine.
        reply = await media().join(self.slug, self.pid, message["sdp"])
        # Sent at once: it must reach the browser before any server offer for this peer.
        await self._send({"type": "rtc.answer", "sdp": reply["sdp"], "tracks": reply.get("tracks", {}),
                          **_offer_number(message)})
        participant = await db(presence.find)(self.slug, self.pid)
        if participant.audio_only:
            await media().set_audio_only(self.slug, self.pid, True)

    async def on_rtc_prepare(self, message: dict) -> None:
        """The waiting room's connection: made now (ICE, DTLS), media only once admitted
        (the engine forwards nothing to or from it before: MediaEngine.prepare). Guests only,
        from the waiting room; an admitted browser offers with rtc.offer."""
        if self.status != lobby.Status.WAITING or self.role != lobby.Role.GUEST:
            raise ProtocolError("forbidden", "Only a guest in the waiting room prepares its connection.",
                                ref="rtc.prepare")
        self.prepared = False
        reply = await media().prepare(self.slug, self.pid, message["sdp"])
        self.prepared = True
        await self._send({"type": "rtc.answer", "sdp": reply["sdp"], "tracks": {}, **_offer_number(message)})

    async def on_rtc_answer(self, message: dict) -> None:
        await media().answer(self.slug, self.pid, message["sdp"])

    async def on_media_state(self, message: dict) -> None:
        flags = {k: message[k] for k in ("audio", "video", "screen") if k in message}
        await self._update_and_broadcast(**flags)

    async def on_quality_set(self, message: dict) -> None:
        if self.status != lobby.Status.ADMITTED:  # kept for later; the call hears nothing of the lobby
            if "audio_only" in message:
                self.audio_only = message["audio_only"]
                await db(presence.update_flags)(self.pid, audio_only=message["audio_only"])
            return
        if "audio_only" in message:
            self.audio_only = message["audio_only"]
            with contextlib.suppress(MediaError):  # no peer yet: the flag is applied when it joins
                await media().set_audio_only(self.slug, self.pid, message["audio_only"])
            await self._update_and_broadcast(audio_only=message["audio_only"])
        if "link" in message:  # everyone in the call sees each one's link
            await self._broadcast(room_group(self.slug), {"type": "participant.link", "pid": self.pid,
                                                          "link": message["link"], "auto": message.get("auto", False)})
            # The citizen's is kept for the agents' day view, told when it changes (the
            # message is validated and rate-limited like any other: protocol, ratelimit).
            if self.role == lobby.Role.GUEST and await db(presence.set_guest_link)(self.pid, message["link"]):
                await announce_async(self.room, "link")

    async def on_hand_set(self, message: dict) -> None:
        await self._update_and_broadcast(hand=message["raised"])

    async def on_name_set(self, message: dict) -> None:
        participant = await db(presence.update_flags)(self.pid, name=message["name"])
        target = room_group(self.slug) if self.status == lobby.Status.ADMITTED else mods_group(self.slug)
        await self._broadcast(target, {"type": "participant.updated", "participant": participant.as_dict()})

    async def on_chat_send(self, message: dict) -> None:
        # Stored first (rooms/chat.py): a copy sent again after a reconnect is not broadcast twice.
        # The sender's own copy through the room's group is its acknowledgement; a copy
        # sent again and not broadcast again is acknowledged directly.
        stored, fresh = await db(chat.record)(self.pid, message.get("id"), message["text"])
        if fresh:
            try:
                await self._broadcast(room_group(self.slug), stored.as_message())
            except Exception:
                await db(chat.undelivered)(stored)
                raise
        else:
            await self._send({"type": "chat.ack", "id": stored.client_id})

    async def on_reaction_send(self, message: dict) -> None:
        # Admitted senders only (lobby.check_message): a waiting guest's reaction never
        # reaches the call. Not stored; the pages show it on the sender's tile for a moment.
        await self._broadcast(room_group(self.slug), {"type": "reaction", "pid": self.pid,
                                                      "reaction": message["reaction"]})

    async def on_leave(self, message: dict) -> None:
        participant = await self._move(self.pid, lobby.Status.LEFT)
        await announce_async(self.room, "left")
        await self._drop_media()
        if self.status == lobby.Status.ADMITTED:  # leaving the lobby concerns the agents only
            await self._broadcast(room_group(self.slug), {"type": "participant.left",
                                                          "participant": participant.as_dict()})
        await self._broadcast(mods_group(self.slug), {"type": "participant.left", "participant": participant.as_dict()})
        await self._forget()
        await self.close()

    # --- moderator actions ---
    async def on_lobby_admit(self, message: dict) -> None:
        # The room's pictures are asked for now, while admission is written: the guest's
        # prepared connection gets a keyframe sooner (MediaEngine.request_keyframes).
        spawn(media().request_keyframes(self.slug), name=f"keyframes for an admission in {self.slug}")
        await actions.admit(self.room, message["pid"])

    async def on_lobby_refuse(self, message: dict) -> None:
        await self._send_away(message["pid"], lobby.Status.REFUSED, "lobby.refused",
                              mods_group(self.slug), "lobby.left")

    async def _send_away(self, pid: str, status: str, notice: str, group: str, event: str) -> None:
        """Refuse from the lobby or remove from the call: the target's socket is closed with
        `notice`, and `group` is told `event`."""
        target = await self._move(pid, status)
        await self.channel_layer.group_send(
            personal_group(pid), {"type": "control.close", "message": {"type": notice}, "code": CloseCode.REFUSED}
        )
        await self._broadcast(group, {"type": event, "participant": target.as_dict()})

    async def on_lobby_message(self, message: dict) -> None:
        target = await db(presence.find)(self.slug, message["pid"])
        if target is None or target.status != lobby.Status.WAITING:
            raise ProtocolError("unknown_participant", "Nobody with this id is waiting.", ref=message["pid"])
        me = await db(presence.find)(self.slug, self.pid)
        await self._broadcast(personal_group(message["pid"]), {"type": "lobby.message", "text": message["text"],
                                                               "from": me.name})

    async def on_lobby_return(self, message: dict) -> None:
        target = await self._move(message["pid"], lobby.Status.WAITING)
        await announce_async(self.room, "returned")
        await self.channel_layer.group_send(personal_group(message["pid"]), {"type": "control.returned"})
        await self._broadcast(room_group(self.slug), {"type": "participant.left", "participant": target.as_dict()})
        await self._broadcast(mods_group(self.slug), {"type": "lobby.waiting", "participant": target.as_dict()})

    async def on_lobby_info(self, message: dict) -> None:
        await self._send({"type": "lobby.info", **await db(presence.queue_info)(self.room)})

    async def on_mod_mute(self, message: dict) -> None:
        await self._require_present(message["pid"])
        participant = await db(presence.update_flags)(message["pid"], audio=False)
        await self._broadcast(personal_group(message["pid"]), {"type": "mod.muted", "by": self.pid})
        await self._broadcast(
            room_group(self.slug), {"type": "participant.updated", "participant": participant.as_dict()}
        )

    async def on_mod_lower_hand(self, message: dict) -> None:
        await self._require_present(message["pid"])
        await self._hands_lowered(await db(presence.lower_hands)(self.room, message["pid"]))

    async def on_mod_lower_hands(self, message: dict) -> None:
        await self._hands_lowered(await db(presence.lower_hands)(self.room))

    async def _hands_lowered(self, participants: list) -> None:
        """Each lowered hand: its owner is told who lowered it (their button follows), the
        call sees the tile change."""
        for participant in participants:
            await self._broadcast(personal_group(str(participant.pid)), {"type": "hand.lowered", "by": self.pid})
            await self._broadcast(room_group(self.slug), {"type": "participant.updated",
                                                          "participant": participant.as_dict()})

    async def on_mod_remove(self, message: dict) -> None:
        await self._send_away(message["pid"], lobby.Status.REMOVED, "removed",
                              room_group(self.slug), "participant.left")

    async def on_mod_end(self, message: dict) -> None:
        pids = await db(presence.end_meeting)(self.room)
        for pid in pids:
            await self.channel_layer.group_send(
                personal_group(pid), {"type": "control.close", "message": {"type": "ended"}, "code": CloseCode.ENDED}
            )
        await media().close_room(self.slug)

    async def on_mod_rename(self, message: dict) -> None:
        target = await db(presence.find)(self.slug, message["pid"])
        if target is None or not target.by_phone or target.status not in (lobby.Status.WAITING,
                                                                          lobby.Status.ADMITTED):
            raise ProtocolError("unknown_participant", "No telephone participant with this id.", ref=message["pid"])
        participant = await db(presence.update_flags)(message["pid"], name=message["name"])
        group = room_group(self.slug) if participant.status == lobby.Status.ADMITTED else mods_group(self.slug)
        await self._broadcast(group, {"type": "participant.updated", "participant": participant.as_dict()})

    async def on_phone_call(self, message: dict) -> None:
        from rooms.phone import dialout  # the Twilio SDK's REST client, only when used

        try:
            call = await db(dialout.place)(self.room, message.get("number", ""))
        except dialout.DialOutError as error:
            raise ProtocolError("dial_out", str(error), ref="phone.call") from None
        await self._broadcast(mods_group(self.slug), {"type": "phone.status", "status": call.status,
                                                      "number": f"··{call.number_tail}"})

    async def on_room_lock(self, message: dict) -> None:
        await db(presence.set_locked)(self.room, message["locked"])
        event = {"type": "room.locked", "locked": message["locked"]}
        await self._broadcast(room_group(self.slug), event)
        await self._broadcast(mods_group(self.slug), event)

    async def on_room_password(self, message: dict) -> None:
        password = await db(services.change_password)(self.room)
        await self._broadcast(mods_group(self.slug), {"type": "room.password", "password": password})

    # --- ID check: the agent asks, the citizen accepts or refuses, the server reads the card ---
    async def on_idcheck_start(self, message: dict) -> None:
        await self._require_present(message["pid"])
        me = await db(presence.find)(self.slug, self.pid)
        await self.channel_layer.group_send(personal_group(message["pid"]), {
            "type": "control.idcheck", "by_pid": self.pid, "by_name": me.name, "by_user": me.user_id,
        })  # the asked participant's consumer tells the agents whether the request was taken

    async def on_idcheck_cancel(self, message: dict) -> None:
        await self.channel_layer.group_send(personal_group(message["pid"]), {"type": "control.idcheck_cancel"})

    async def on_idcheck_accept(self, message: dict) -> None:
        if self.idcheck_request is None or self.idcheck_task is not None:
            raise ProtocolError("no_idcheck", "No identity check was asked for.", ref="idcheck.accept")
        self.idcheck_task = spawn(self._run_idcheck(self.idcheck_request), name=f"idcheck {self.slug}/{self.pid}")
        await self._broadcast(mods_group(self.slug), {"type": "idcheck.status", "pid": self.pid, "state": "running"})

    async def on_idcheck_refuse(self, message: dict) -> None:
        request = self.idcheck_request
        if request is None:
            raise ProtocolError("no_idcheck", "No identity check was asked for.", ref="idcheck.refuse")
        await self._stop_idcheck()
        await db(presence.record_identity_check)(self.room, request["by_user"], {"outcome": "refused"})
        await self._broadcast(mods_group(self.slug), {"type": "idcheck.status", "pid": self.pid, "state": "refused"})

    async def _run_idcheck(self, request: dict) -> None:
        appointment = self.room.appointment
        try:
            report = await media().id_check(self.slug, self.pid, appointment.citizen_first_name,
                                            appointment.citizen_last_name, timeout=settings.IDCHECK_TIMEOUT,
                                            on_hint=self._send_idcheck_hint)
        except MediaError as error:
            log.info("idcheck could not run for %s: %s", self.pid, error)
            report = {"view": {"outcome": "unreadable", "reasons": ["no_video"]}, "still": "",
                      "audit": {"outcome": "unreadable"}}
        await db(presence.record_identity_check)(self.room, request["by_user"], report["audit"])
        # Name, number and still go to the agents' browsers only; the database keeps the audit line.
        await self._broadcast(mods_group(self.slug), {"type": "idcheck.result", "pid": self.pid,
                                                      **report["view"], "still": report["still"]})
        await self._send({"type": "idcheck.ended", "outcome": report["view"]["outcome"]})
        self.idcheck_request = self.idcheck_task = None

    async def _send_idcheck_hint(self, hint: str) -> None:
        """Live guidance (media/identity.py bounds the rate): the citizen, and the agents, see it."""
        await self._send({"type": "idcheck.hint", "hint": hint})
        await self._broadcast(mods_group(self.slug), {"type": "idcheck.hint", "pid": self.pid, "hint": hint})

    async def _stop_idcheck(self) -> None:
        task, self.idcheck_task, self.idcheck_request = self.idcheck_task, None, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def control_idcheck(self, event: dict) -> None:
        if not self.pid:
            return  # this socket is closing: the agents hear of the departure itself
        # Said by the one who knows: the agent's page otherwise waits on a request nobody saw.
        state = ("busy" if self.idcheck_task is not None else
                 "unavailable" if self.status != lobby.Status.ADMITTED else "requested")
        if state == "requested":
            self.idcheck_request = event
            await self._send({"type": "idcheck.requested", "by": event["by_name"]})
        await self._broadcast(mods_group(self.slug), {"type": "idcheck.status", "pid": self.pid, "state": state})

    async def control_idcheck_cancel(self, event: dict) -> None:
        if self.idcheck_request is not None:
            await self._stop_idcheck()
            await self._send({"type": "idcheck.ended", "outcome": "cancelled"})
            await self._broadcast(mods_group(self.slug), {"type": "idcheck.status", "pid": self.pid,
                                                          "state": "cancelled"})

    # --- events from the channel layer ---
    async def client_forward(self, event: dict) -> None:
        await self._send(event["message"])

    async def control_admitted(self, event: dict) -> None:
        # Not once this socket is closing (it left, was refused): its pid is gone.
        if not self.pid or self.status == lobby.Status.ADMITTED:
            return
        self.status = lobby.Status.ADMITTED
        # The prepared connection enters the call first: media flows while the page is told.
        admitted: dict = {"type": "lobby.admitted"}
        if self.prepared:
            self.prepared = False
            try:
                reply = await media().admit(self.slug, self.pid, self.audio_only)
            except MediaError as error:  # gone meanwhile (a failed connection, a dead node): the page offers
                log.info("prepared connection of %s not admitted: %s", self.pid, error)
                reply = None
            if reply is not None:
                admitted["tracks"] = reply["tracks"]
        await self._join_group(room_group(self.slug))
        await self._send(admitted)
        await self._send_state()

    async def control_returned(self, event: dict) -> None:
        if not self.pid or self.status != lobby.Status.ADMITTED:
            return
        self.status = lobby.Status.WAITING
        self.prepared = False
        await self.channel_layer.group_discard(room_group(self.slug), self.channel_name)
        self.groups_joined = tuple(g for g in self.groups_joined if g != room_group(self.slug))
        await self._stop_idcheck()
        await self._drop_media()
        await self._send({"type": "lobby.returned"})
        await self._send({"type": "lobby.info", **await db(presence.queue_info)(self.room)})

    async def layer_recovered(self, event: dict) -> None:
        """The channel layer is back after a Redis outage (rooms/layer.py): what was
        broadcast meanwhile is lost, a fresh state and the chat's replay catch the browser
        up (another process's broadcasts reach a group only once this process has added
        its members again: a chat said in between was stored, not heard here)."""
        if not self.pid:
            return
        greeting = await db(handshake.greet)(self.room, self.pid)  # state and replay: one call
        if greeting.status == lobby.Status.ADMITTED and self.status != lobby.Status.ADMITTED:
            await self.control_admitted({})  # admitted during the outage: that notice was lost
            return
        await self._send_state(greeting.state)
        self.replay = greeting.replay
        await self._replay_chat()

    async def account_closed(self, event: dict) -> None:
        """The member's session was closed or their membership deactivated
        (portal/accounts/sessions.py): the call goes on without them, as after a lost
        connection; their browser is told the session is over."""
        if not self.pid:
            return
        log.info("room socket closed: account session ended (room=%s pid=%s)", self.slug, self.pid)
        await self.close(CloseCode.NO_SESSION)

    async def control_close(self, event: dict) -> None:
        if not self.pid:
            return  # already closing with its own final word
        await self._send(event["message"])
        await self._drop_media()
        await self._forget()  # the status was set by whoever closed us
        await self.close(event["code"])

    # --- helpers ---
    async def _forget(self) -> None:
        """This socket is closing after a final status: offline now, nothing more to record."""
        pid, self.pid = self.pid, ""
        if pid:
            await db(presence.disconnect)(pid, self.channel_name)

    async def _send(self, message: dict) -> None:
        # The browser went away while a handler ran (a pong to a socket closing): Daphne
        # raises, and the handler's error path sent again, raised again and ended the consumer
        # without its cleanup (the participant stayed online until the sweep; seen at the
        # bench's hang-up). Daphne delivers the disconnect next, which does the cleanup.
        with contextlib.suppress(Disconnected):
            await self.send(text_data=json.dumps(message))

    async def _broadcast(self, group: str, message: dict) -> None:
        await self.channel_layer.group_send(group, forward(message))

    async def _join_group(self, group: str) -> None:
        await self._join_groups([group])

    async def _join_groups(self, groups: list[str]) -> None:
        """In one round trip with the Redis layer (rooms/layer.py)."""
        self.groups_joined = (*self.groups_joined, *groups)  # discarded on disconnect, even if the add failed
        layer = self.channel_layer
        if hasattr(layer, "group_add_all"):
            await layer.group_add_all(groups, self.channel_name)
        else:  # the in-memory layer (development, tests without Redis)
            for group in groups:
                await layer.group_add(group, self.channel_name)

    async def _leave_groups(self, groups: tuple[str, ...]) -> None:
        layer = self.channel_layer
        if hasattr(layer, "group_discard_all"):
            await layer.group_discard_all(groups, self.channel_name)
        else:
            for group in groups:
                await layer.group_discard(group, self.channel_name)

    async def _replay_chat(self) -> None:
        """What was said while this participant was not hearing the room (it drops what it
        already has); an admitted participant only. Read by the handshake when it just ran."""
        said, self.replay = self.replay, None
        if self.pid and self.status == lobby.Status.ADMITTED:
            if said is None:
                said = await db(chat.replay)(self.pid)
            if said:
                await self._send({"type": "chat.replay", "messages": said})

    async def _send_state(self, state: dict | None = None) -> None:
        # Fresh TURN credentials at every (re)connection: the page uses them for its next offer.
        if state is None:
            state = await db(presence.state)(self.room, self.pid)
        if self.status != lobby.Status.ADMITTED:
            state["participants"] = []  # a waiting guest learns their place, not who is in the call
        await self._send({"type": "state", **state, "ice_servers": ice_servers_for(self.pid)})

    async def _move(self, pid: str, target: str):
        return await db(presence.move)(self.room, pid, target)

    async def _require_present(self, pid: str) -> None:
        participant = await db(presence.find)(self.slug, pid)
        if participant is None or participant.status != lobby.Status.ADMITTED:
            raise ProtocolError("unknown_participant", "Nobody with this id is in the room.", ref=pid)

    async def _update_and_broadcast(self, **flags) -> None:
        participant = await db(presence.update_flags)(self.pid, **flags)
        await self._broadcast(
            room_group(self.slug), {"type": "participant.updated", "participant": participant.as_dict()}
        )

    async def _drop_media(self) -> None:
        if self.pid:
            with contextlib.suppress(MediaError):  # it may have had no peer connection
                await media().leave(self.slug, self.pid)
