"""Admission control for room sockets: each Daphne process takes a bounded number of
handshakes at a time and refuses the rest at once, with a retry hint (close code 4503 BUSY).

Why: a room handshake is several database calls in the thread pool (a handful of threads,
a new PostgreSQL connection per call). Under a storm of connects the pool's queue grew
without bound; handshakes waited longer than the browsers did, the browsers retried, and
the abandoned handshakes still ran their queries (and Daphne killed them after its
application_close_timeout, 10 s: "took too long to shut down"). Refusing early keeps the
queue short, so every admitted handshake finishes in well under a second, and the
refused browsers come back spread out by the hint and their jittered backoff.

Measured (bench/signalling_load.py): what limits a storm is not the consumer but what runs
before it. Channels' AuthMiddleware loads the session and the user with
`database_sync_to_async`, thread-sensitive: one thread per process for every handshake. So
the gate is an ASGI middleware outside the whole WebSocket stack (`gate`, portal/asgi.py): it
counts a handshake from its first byte of work to the accept (or close) and refuses the rest
before any database call. The consumer bounds its own part in time (ROOM_HANDSHAKE_TIMEOUT).

A handshake that finds every slot taken waits for one, in order, if those already waiting
can be served within ROOM_HANDSHAKE_QUEUE_WAIT at this process's pace; only beyond is it
refused. Why: a refusal is a whole WebSocket handshake too (Twisted, autobahn, accept, send,
close: about half of what an admitted one costs Daphne), and the refused browser comes back
seconds later to be refused again. When the other process was killed (bench/signalling_load.py),
its ~300 sockets arrive here within a second: refused at once, 553 refusals took nearly as
much of this process as the 288 reconnections they delayed. A waiting handshake costs nothing
(an asyncio future; no database call, no thread), and the wait is bounded in time and in
number, so the queue never grows behind slow handshakes as the thread pool's did. 6 s by
default (ROOM_HANDSHAKE_QUEUE_WAIT, portal/settings.py gives the figures; 0: refused at once).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from rooms.protocol import CloseCode

# A saturated second's pace per CPU second counts if the process had at least this much CPU
# in it (less: a few handshakes finishing on CPU spent the second before say little).
MIN_CPU_SECOND = 0.2


@dataclass
class Admission:
    max_handshakes: int  # in flight at once in this process
    max_sockets: int  # open at once in this process
    max_wait: float = 0.0  # seconds a handshake may wait for a slot (0: refused at once)
    clock: Callable[[], float] = time.monotonic
    handshakes: int = 0
    sockets: set[int] = field(default_factory=set)
    # Handshakes waiting for a slot, in order; leave() hands its slot to the first.
    waiting: collections.deque[asyncio.Future[bool]] = field(default_factory=collections.deque)
    # Per-second counts (this second and the one before) for the retry hint.
    _second: int = 0
    _refused: list[int] = field(default_factory=lambda: [0, 0])
    _done: list[int] = field(default_factory=lambda: [0, 0])
    _saturated: bool = False  # this second, a handshake waited or was refused
    # Handshakes done in the busiest full second this process was saturated (some waited or were refused):
    # what it can do, where the last two seconds only say what it did (a crowd arriving at
    # once, after a quiet while, got the longest hint while the process had room: SIGKILL of
    # the other process, bench/signalling_load.py).
    peak: int = 0
    # Handshakes per second of this process's CPU in its saturated seconds (averaged): what it
    # can do with a core to itself. `peak` is what it did with the share of the cores it had:
    # in a storm the two processes share this machine's two cores (~25 handshakes/s each), the
    # survivor of a killed one has a core (50-57/s), and a queue bound and hints from the
    # storm's pace sent half of the killed process's crowd away for up to 10 s (README).
    per_cpu_second: float = 0.0
    cpu: Callable[[], float] = time.process_time  # this process's CPU seconds, all threads
    _cpu_mark: float | None = None  # cpu() when this second began

    def enter(self) -> bool:
        """Start a handshake if there is room for it now; False: refuse it now (BUSY)."""
        self._tick()
        if self.handshakes >= self.max_handshakes or self.waiting or len(self.sockets) >= self.max_sockets:
            self._refuse()
            return False
        self.handshakes += 1
        return True

    async def turn(self) -> bool:
        """Start a handshake, after waiting for a slot if the wait is short enough (see the
        module's doc); False: refuse it (BUSY). True: the caller must leave() after."""
        self._tick()
        full = len(self.sockets) >= self.max_sockets
        if not full and self.handshakes < self.max_handshakes and not self.waiting:
            self.handshakes += 1
            return True
        if full or len(self.waiting) >= self.max_wait * self.pace():
            self._refuse()
            return False
        self._saturated = True
        slot: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.waiting.append(slot)
        try:
            async with asyncio.timeout(self.max_wait):
                await asyncio.shield(slot)
            return True
        except TimeoutError:
            if slot.done():  # handed a slot as the time ran out: take it
                return True
            slot.cancel()
            self._forget(slot)
            self._refuse()
            return False
        except asyncio.CancelledError:  # the connection went away while it waited
            if slot.done() and not slot.cancelled():
                self._release()  # the slot it was handed goes to the next one
            else:
                slot.cancel()
                self._forget(slot)
            raise

    def leave(self) -> None:
        """The handshake finished (accepted, refused by the room's rules, failed, cancelled):
        its slot goes to the first handshake waiting, if any."""
        self._tick()
        self._done[1] += 1
        self._release()

    def _release(self) -> None:
        while self.waiting:
            slot = self.waiting.popleft()
            if not slot.done():
                slot.set_result(True)
                return
        self.handshakes -= 1

    def pace(self) -> float:
        """Handshakes per second this process can take: the last two seconds' or, when it
        was saturated, its best such second (see `peak`) or its pace per CPU second (a core's
        worth: see `per_cpu_second`); at least half its slots a second. Optimistic on a loaded
        machine: the wait is bounded in time too, and those it did not serve are refused then."""
        self._tick()
        return max((self._done[0] + self._done[1]) / 2, self.peak, self.per_cpu_second,
                   self.max_handshakes / 2, 0.5)

    def _refuse(self) -> None:
        self._refused[1] += 1
        self._saturated = True

    def _forget(self, slot: asyncio.Future[bool]) -> None:
        with contextlib.suppress(ValueError):
            self.waiting.remove(slot)

    def opened(self, key: int) -> None:
        self.sockets.add(key)

    def closed(self, key: int) -> None:
        self.sockets.discard(key)

    def retry_after(self) -> int:
        """Seconds over which the refused browsers should come back (each picks a random
        moment in their second half, rooms/static/rooms/js/backoff.js): the time this process
        needs, at its pace, for those waiting and the handshakes it has just refused."""
        self._tick()
        if len(self.sockets) >= self.max_sockets:
            return settings.ROOM_SOCKETS_FULL_RETRY
        # Those waiting go first: the refused come back after them.
        ahead = self._refused[0] + self._refused[1] + len(self.waiting)
        return max(1, min(settings.ROOM_BUSY_MAX_RETRY, math.ceil(ahead / self.pace())))

    def _tick(self) -> None:
        second = int(self.clock())
        if second != self._second:
            gap = second - self._second
            cpu = self.cpu()
            if self._saturated:  # the second that ended was saturated: its pace is a capacity
                self.peak = max(self.peak, self._done[1])
                used = cpu - self._cpu_mark if self._cpu_mark is not None else 0.0
                if gap == 1 and used >= MIN_CPU_SECOND and self._done[1]:
                    rate = self._done[1] / used
                    self.per_cpu_second = (self.per_cpu_second + rate) / 2 if self.per_cpu_second else rate
            self._cpu_mark = cpu
            self._saturated = bool(self.waiting)
            self._refused = [self._refused[1] if gap == 1 else 0, 0]
            self._done = [self._done[1] if gap == 1 else 0, 0]
            self._second = second


async def refuse(receive, send, retry_after: int) -> None:
    """Refuse a WebSocket handshake as BUSY without any other work: accept (so the browser
    gets a close code), say `busy` with the hint (Daphne drops a close frame's reason), close."""
    if (await receive())["type"] != "websocket.connect":
        return
    await say_busy(send, retry_after)


async def say_busy(send, retry_after: int) -> None:
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": json.dumps({"type": "busy", "retry_after": retry_after})})
    await send({"type": "websocket.close", "code": CloseCode.BUSY.value})  # an int: autobahn refuses IntEnum


def gate(inner):
    """ASGI middleware: the WebSocket stack behind it gets at most `max_handshakes` handshakes
    at once and `max_sockets` open sockets per process; the others are refused BUSY at once."""

    async def app(scope, receive, send) -> None:
        if scope["type"] != "websocket":
            await inner(scope, receive, send)
            return
        admission = ADMISSION
        if not await admission.turn():
            await refuse(receive, send, admission.retry_after())
            return
        key, handshaking, refused = object(), True, False

        async def watched(message) -> None:
            nonlocal handshaking
            if refused:
                return  # refused as late (below): the socket is closed, the app's sends go nowhere
            if handshaking and message["type"] in ("websocket.accept", "websocket.close"):
                handshaking = False
                admission.leave()
                if message["type"] == "websocket.accept":
                    admission.opened(id(key))
            await send(message)

        async def deadline() -> None:
            # Daphne resets a handshake not accepted within its --websocket_connect_timeout
            # (deploy/Procfile: 30 s; 5 s by default): refuse it cleanly before, whatever part
            # of the stack holds it. The app carries on; Daphne's disconnect runs its cleanup.
            nonlocal handshaking, refused
            await asyncio.sleep(settings.ROOM_HANDSHAKE_TIMEOUT + 1)
            if handshaking:
                handshaking, refused = False, True
                admission.leave()
                await say_busy(send, admission.retry_after())

        watchdog = asyncio.create_task(deadline())
        try:
            await inner(scope, receive, watched)
        finally:  # however it ends (closed, failed, killed by Daphne): it no longer counts
            watchdog.cancel()
            if handshaking:
                admission.leave()
            admission.closed(id(key))

    return app


def auth_stack(inner, vet=None):
    """Channels' AuthMiddlewareStack, with the session and user read in the thread pool like
    every other database call of a handshake: Channels reads them thread-sensitive, in one
    thread per process for every handshake (the queue that never drained in a storm).
    `vet(session, user)` (sync, same thread) may replace the user: the portal's second
    factor rule (portal/accounts/middleware.py), given by portal/asgi.py."""
    from channels.auth import AuthMiddleware, get_user
    from channels.sessions import CookieMiddleware, SessionMiddleware

    from rooms.dbcall import db

    def read(scope):
        user = get_user.func(scope)  # type: ignore[attr-defined]
        return vet(scope.get("session"), user) if vet is not None else user

    read_user = db(read)  # the connection back to the pool after

    class Auth(AuthMiddleware):
        async def resolve_scope(self, scope) -> None:
            scope["user"]._wrapped = await read_user(scope)

    return CookieMiddleware(SessionMiddleware(Auth(inner)))


def from_settings() -> Admission:
    return Admission(max_handshakes=settings.ROOM_MAX_HANDSHAKES, max_sockets=settings.ROOM_MAX_SOCKETS,
                     max_wait=settings.ROOM_HANDSHAKE_QUEUE_WAIT)


ADMISSION = from_settings()
