"""A user-space link emulator (this kernel has no netem): a network namespace whose only
link to this machine is a pair of TUN devices, one on each side, and a thread that carries
every IP packet between them through a shaper — delay, jitter, random loss, a rate limit
with a bounded queue, and outages — separately for each direction.

Used by the weak-network browser tests (tests/e2e/test_weak_network.py) and the bench
(bench/weak_network_bench.py): a browser started inside the namespace (Namespace.wrapper)
reaches the portal and the media engine at `host_ip` only through the emulator.

Needs root and /dev/net/tun. Packets are shaped whole (UDP media, RTCP, ICE and the page's
TCP alike), as a mobile link would. Order is kept under jitter (a later packet never
overtakes an earlier one), like a real access link and unlike a naive per-packet delay.
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import os
import random
import select
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from tests.e2e.netns import IP, Namespace, _run, _unused_link

_TUNSETIFF = 0x400454CA
_IFF_TUN, _IFF_NO_PI = 0x0001, 0x1000


@dataclass(frozen=True)
class Shape:
    """One direction of the link."""

    delay_ms: float = 0.0
    jitter_ms: float = 0.0  # uniform ± around the delay, order kept
    loss: float = 0.0  # probability a packet is dropped
    rate_kbps: float | None = None  # None: unlimited
    queue_ms: float = 300.0  # with a rate: a packet that would wait longer is dropped
    outage: bool = False  # everything dropped


@dataclass(frozen=True)
class Profile:
    """`up`: from the namespace (the citizen) to this machine; `down`: the other way."""

    up: Shape = Shape()
    down: Shape = Shape()

    @classmethod
    def both(cls, **shape: float | bool | None) -> Profile:
        return cls(Shape(**shape), Shape(**shape))  # type: ignore[arg-type]

    def with_outage(self, outage: bool) -> Profile:
        return Profile(replace(self.up, outage=outage), replace(self.down, outage=outage))


@dataclass
class DirectionCounters:
    passed: int = 0
    lost: int = 0  # random loss
    queue_full: int = 0  # the rate limit's queue overflowed
    outage: int = 0


@dataclass
class _Direction:
    counters: DirectionCounters = field(default_factory=DirectionCounters)
    busy_until: float = 0.0  # when the rate-limited link finishes sending what it holds
    last_delivery: float = 0.0


class LinkEmulator:
    """Carries packets between the namespace's TUN (`ns_fd`) and this machine's (`host_fd`)."""

    def __init__(self, ns_fd: int, host_fd: int, profile: Profile, seed: int | None = None) -> None:
        self._fds = {ns_fd: "up", host_fd: "down"}
        self._out = {ns_fd: host_fd, host_fd: ns_fd}
        self.profile = profile
        self._random = random.Random(seed)
        self._directions = {"up": _Direction(), "down": _Direction()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="link-emulator", daemon=True)

    @property
    def counters(self) -> dict[str, DirectionCounters]:
        return {name: d.counters for name, d in self._directions.items()}

    def set_profile(self, profile: Profile) -> None:
        self.profile = profile  # read once per packet by the thread: one assignment, no lock needed

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _admit(self, direction: str, size: int, now: float) -> float | None:
        """When the packet leaves the link, or None if it is dropped."""
        shape = self.profile.up if direction == "up" else self.profile.down
        state = self._directions[direction]
        if shape.outage:
            state.counters.outage += 1
            return None
        if shape.loss and self._random.random() < shape.loss:
            state.counters.lost += 1
            return None
        at = now
        if shape.rate_kbps:
            start = max(now, state.busy_until)
            if start - now > shape.queue_ms / 1000:
                state.counters.queue_full += 1
                return None
            state.busy_until = start + size * 8 / (shape.rate_kbps * 1000)
            at = state.busy_until
        at += (shape.delay_ms + self._random.uniform(-shape.jitter_ms, shape.jitter_ms)) / 1000
        at = max(at, state.last_delivery, now)
        state.last_delivery = at
        state.counters.passed += 1
        return at

    def _loop(self) -> None:
        due: list[tuple[float, int, int, bytes]] = []
        sequence = 0
        fds = list(self._fds)
        while not self._stop.is_set():
            wait = min(0.05, max(0.0, due[0][0] - time.monotonic())) if due else 0.05
            readable, _, _ = select.select(fds, [], [], wait)
            now = time.monotonic()
            for fd in readable:
                try:
                    packet = os.read(fd, 65535)
                except OSError:
                    continue
                at = self._admit(self._fds[fd], len(packet), now)
                if at is not None:
                    sequence += 1
                    heapq.heappush(due, (at, sequence, self._out[fd], packet))
            now = time.monotonic()
            while due and due[0][0] <= now:
                _, _, out, packet = heapq.heappop(due)
                with contextlib.suppress(OSError):  # a device going away at the end
                    os.write(out, packet)


def _open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
    return fd


def _open_tun_in(namespace: str, name: str) -> int:
    """A TUN device created inside `namespace` (setns is per thread: a short-lived one does it)."""
    result: dict[str, int | BaseException] = {}

    def create() -> None:
        try:
            with open(f"/run/netns/{namespace}") as target:
                os.setns(target.fileno(), os.CLONE_NEWNET)
            result["fd"] = _open_tun(name)
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            result["error"] = error

    thread = threading.Thread(target=create)
    thread.start()
    thread.join()
    if "error" in result:
        raise RuntimeError(f"cannot create {name} in {namespace}") from result["error"]  # type: ignore[arg-type]
    fd = result["fd"]
    assert isinstance(fd, int)
    return fd


@contextlib.contextmanager
def emulated_link(profile: Profile = Profile(), seed: int | None = None) -> Iterator[tuple[Namespace, LinkEmulator]]:
    """A fresh namespace `gve<pid>` joined to this machine through a LinkEmulator."""
    name = f"gve{os.getpid()}"
    host_end, ns_end = f"{name}h", f"{name}n"
    link = _unused_link()
    host_ip, ns_ip = (str(address) for address in link.hosts())
    fds: list[int] = []
    emulator: LinkEmulator | None = None
    try:
        _run(IP, "netns", "add", name)
        space = Namespace(name, host_ip, ns_ip)
        space.run(IP, "link", "set", "lo", "up")
        fds.append(_open_tun_in(name, ns_end))
        fds.append(_open_tun(host_end))
        space.run(IP, "addr", "add", f"{ns_ip}/30", "dev", ns_end)
        space.run(IP, "link", "set", ns_end, "up")
        _run(IP, "addr", "add", f"{host_ip}/30", "dev", host_end)
        _run(IP, "link", "set", host_end, "up")
        emulator = LinkEmulator(fds[0], fds[1], profile, seed)
        emulator.start()
        yield space, emulator
    finally:
        if emulator is not None:
            emulator.stop()
        for fd in fds:
            os.close(fd)  # the TUN devices go with their last descriptor
        subprocess.run([IP, "netns", "del", name], capture_output=True, timeout=30)
