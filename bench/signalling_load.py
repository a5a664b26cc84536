"""Load and fault bench of the signalling tier (issue 22): N room participants over two
Daphne processes, with a storm of connects, steady traffic and three faults.

Everything runs on loopback in processes of its own, stopped at the end: a private
PostgreSQL cluster (initdb in a temporary folder, its own port: the shared server on 5432 is
never touched), a private redis-server (no persistence, as Redis may run), two Daphne
processes behind nginx configured by deploy/nginx-site.conf itself (round robin; the next
backend when one refuses a connection; plain HTTP on its HTTPS listener unless --tls).
Appointments are booked through the
booking code (tests/factories.py); each room has its agent (moderator) and its citizen; a
share of the citizens stay in the waiting room (they poll `lobby.info`).

The clients behave like the room page: `ping` every 20 s (no `pong` within 10 s: drop),
reconnect with full-jitter backoff honouring `busy`'s hint (rooms/static/rooms/js/backoff.js),
chat with ids sent again after a reconnect until acknowledged (outbox.js), hand raised now
and then, the agent admits its citizen.

Phases: storm (all N connect within the same second), steady traffic, Redis restart,
PostgreSQL restart, SIGKILL of one Daphne (a share of its participants never come back:
ghosts are counted `--ghost-wait` s later), then a clean hang-up of everyone.
Prints connect / admit / chat percentiles, recovery times, messages lost, ghosts, Daphne RSS
slope, PostgreSQL and Redis connection counts.

Usage: .venv/bin/python bench/signalling_load.py [--n 60] [--steady 20] [--phases storm,steady,redis,postgres,kill]
(defaults: a quick run; the issue's target run: --n 600 --steady 600; README's: --n 600 --steady 150).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FINAL = {4401, 4403, 4409, 4410}  # rooms/protocol.py CloseCode, minus RETRY
BUSY = 4503
PING_EVERY, PONG_WITHIN = 20.0, 10.0
SILENT = 4000  # the client's own close code when no pong came
LOBBY_INFO_EVERY = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, ready, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


# --- the retry delay of rooms/static/rooms/js/backoff.js, in Python ---
def retry_delay(attempt: int, hint: float = 0.0) -> float:
    window = min(10.0, 2.0 ** attempt) + max(0.0, hint)
    start = max(0.25, max(0.0, hint) / 2)  # with a hint, not before its half
    return start + random.random() * (window - start)  # noqa: S311 (load shape)


# --- private servers ---
class Postgres:
    """A private cluster in a temporary folder (as the `postgres` user when run as root)."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder / "pg", free_port()
        self.folder.mkdir()
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: as the postgres user
            shutil.chown(self.folder, "postgres", "postgres")
        self._as_postgres(["initdb", "-D", str(self.folder), "-A", "trust", "-U", "postgres", "--no-sync",
                           "-E", "UTF8", "--locale", "C.UTF-8"])
        self.start()
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-qc",
                        "create database bench"], check=True, capture_output=True)
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/bench"

    def _as_postgres(self, argv: list[str]) -> None:
        binary = shutil.which(argv[0]) or argv[0]
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_user, binary, *argv[1:]], check=True, capture_output=True)

    def _ctl(self, action: str) -> None:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=500 "
                   "-c fsync=off -c shared_buffers=64MB")
        self._as_postgres(["pg_ctl", "-D", str(self.folder), "-o", options, "-l", str(self.folder / "log"),
                           "-w", "-m", "fast", action])

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("stop")


class Redis:
    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder), "--maxclients", "4000"], stdout=subprocess.DEVNULL)
        wait_for("redis", lambda: listening(self.port), 10)

    def restart(self, down: float = 1.0) -> None:
        self.stop()
        time.sleep(down)
        self.start()

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


class Daphnes:
    def __init__(self, folder: Path, env: dict[str, str], backlog: int, connect_timeout: int, count: int = 2):
        self.folder, self.env, self.backlog, self.connect_timeout = folder, env, backlog, connect_timeout
        self.ports = [free_port() for _ in range(count)]
        self.procs: list[subprocess.Popen | None] = [None] * count
        for i in range(count):
            self.start(i)

    def start(self, i: int) -> None:
        with (self.folder / f"daphne{i}.log").open("ab") as log:
            self.procs[i] = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-e", f"tcp:port={self.ports[i]}:interface=127.0.0.1"
                 + (f":backlog={self.backlog}" if self.backlog else ""),  # as deploy/Procfile
                 "--websocket_connect_timeout", str(self.connect_timeout), "portal.asgi:application"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_for(f"daphne {i}", lambda: listening(self.ports[i]), 30)

    def kill(self, i: int) -> None:
        proc = self.procs[i]
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def rss_mb(self) -> list[float | None]:
        out: list[float | None] = []
        for proc in self.procs:
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text() if proc and proc.poll() is None else ""
            except OSError:
                status = ""
            match = re.search(r"VmRSS:\s+(\d+) kB", status)
            out.append(int(match.group(1)) / 1024 if match else None)
        return out

    def log_counts(self) -> dict[str, int]:
        text = "".join((self.folder / f"daphne{i}.log").read_text(errors="replace") for i in range(len(self.ports)))
        errors = collections.Counter(re.findall(r"^([\w.]+(?:Error|Exception|Closed\w*)):", text, re.MULTILINE))
        return {"took too long to shut down": text.count("took too long to shut down"),
                "tracebacks": text.count("Traceback"), "handshakes over the time limit": text.count("refused as busy"),
                **dict(errors.most_common(4))}

    def stop(self) -> None:
        for proc in self.procs:
            if proc and proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            if proc:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


# --- the proxy: deploy/nginx-site.conf itself, rendered as deploy/render.py does ---
class Nginx:
    """nginx with the site file shipped in deploy/ (the upstream of both Daphne, its
    proxy_next_upstream and timeouts, the headers), so the bench measures the routing that is
    deployed and follows it when it changes. Its HTTPS listener serves plain HTTP unless
    `tls`: one Python client terminating 600 TLS sessions at once, and nginx's single worker
    doing their RSA, are not what a structure's browsers and nginx do (at load 25-43 the storm
    then did not converge: 9 of 600 connected after 90 s, 2,391 failed handshakes). Around it, a main
    configuration of the bench's: one worker, no access log, enough worker_connections for N
    clients and their upstreams (Debian's nginx.conf has 768: under 600 participants and their
    600 upstream connections)."""

    def __init__(self, folder: Path, backends: list[int], tls: bool = False):
        from deploy.render import render

        self.port, self.folder = free_port(), folder / "nginx"
        self.folder.mkdir()
        (self.folder / "static").mkdir()
        cert, key = self.folder / "cert.pem", self.folder / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        site = render((ROOT / "deploy" / "nginx-site.conf").read_text(), {
            "SERVER_NAME": "127.0.0.1", "HTTPS_LISTEN": f"127.0.0.1:{self.port}",
            "HTTP_LISTEN": f"127.0.0.1:{free_port()}", "HTTP_LISTEN6": f"[::1]:{free_port()}",
            "HTTPS_LISTEN6": f"[::1]:{free_port()}", "TLS_CERT": str(cert), "TLS_KEY": str(key),
            "DAPHNE_1": f"127.0.0.1:{backends[0]}", "DAPHNE_2": f"127.0.0.1:{backends[1]}",
            "STATIC_ROOT": str(self.folder / "static")})
        # The site logs its errors to syslog (/dev/log), absent here: every line failed and was
        # lost (an [alert] each); in the bench's folder instead, to read what nginx saw.
        site = re.sub(r"error_log syslog:\S+ (\w+);", rf"error_log {self.folder}/site-error.log \1;", site)
        if not tls:
            site = site.replace(f"listen 127.0.0.1:{self.port} ssl http2;", f"listen 127.0.0.1:{self.port};")
        self.scheme = "wss" if tls else "ws"
        (self.folder / "site.conf").write_text(site)
        temp = " ".join(f"{name}_temp_path {self.folder}/{name};" for name in ("client_body", "proxy", "fastcgi",
                                                                               "uwsgi", "scgi"))
        conf = self.folder / "nginx.conf"
        conf.write_text(f"""
daemon off; worker_processes 1; worker_rlimit_nofile 16384;
pid {self.folder}/nginx.pid; error_log {self.folder}/error.log warn;
events {{ worker_connections 8192; }}
http {{ access_log off; {temp} include {self.folder}/site.conf; }}
""")
        self.proc = subprocess.Popen(["nginx", "-p", str(self.folder), "-c", str(conf)], stderr=subprocess.DEVNULL)
        wait_for("nginx", lambda: listening(self.port), 10)

    def error_counts(self) -> dict[str, int]:
        """The site's error lines by what they say (the upstream's address and the client's left out)."""
        path = self.folder / "site-error.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        found = re.findall(r"\] \d+#\d+: \*\d+ (.*?), client:", text)
        return dict(collections.Counter(found).most_common(5))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# --- the clients ---
@dataclass
class Stats:
    connects: list[float] = field(default_factory=list)  # wanting a socket -> state received
    admits: list[float] = field(default_factory=list)
    chat_rtt: list[float] = field(default_factory=list)
    chat_at: list[float] = field(default_factory=list)  # when each round trip ended (timeline)
    chat_phase: list[str] = field(default_factory=list)  # the phase each was sent in
    handshake_failures: int = 0
    busy: int = 0
    busy_hints: list[float] = field(default_factory=list)
    drops: int = 0  # sockets that were connected (state received) and closed under them
    silent: int = 0  # of which: closed by the client, no pong within PONG_WITHIN
    errors: dict[str, int] = field(default_factory=dict)
    lobby_replays: int = 0  # chat replayed to someone waiting: must stay 0
    sent: dict[str, tuple[str, Client, str]] = field(default_factory=dict)  # chat id -> (room, sender, phase)

    def mark(self) -> tuple[int, int, int, int, int]:
        return len(self.connects), self.handshake_failures, self.busy, self.drops, self.silent


class Client:
    def __init__(self, bench: Bench, slug: str, pid: str, session: str, moderator: bool, admit_pid: str | None):
        self.bench, self.slug, self.pid, self.session = bench, slug, pid, session
        self.moderator, self.admit_pid = moderator, admit_pid
        self.ws = None
        self.connected = False
        self.status = "waiting"
        self.seen: set[str] = set()
        self.outbox: dict[str, tuple[dict, float, str]] = {}  # chat id -> (message, first sent at, phase)
        self.count = 0
        self.want_since: float | None = None
        self.hint = 0.0
        self.stop = False
        self.gone = False  # this participant closed its tab: it does not come back
        self.probe_since: float | None = None  # a fault happened at this time: prove we are back
        self.probe_id: str | None = None
        self.recovered: float | None = None
        self.last_pong = 0.0
        # What this client lived last (time, what): printed for those not back after a fault.
        self.trail: collections.deque[tuple[float, str]] = collections.deque(maxlen=12)

    @property
    def stats(self) -> Stats:
        return self.bench.stats

    async def run(self, start_at: float) -> None:
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        attempt = 0
        self.want_since = time.monotonic()
        while not self.stop and not self.gone:
            try:
                self.ws = await self.bench.open(self.slug, self.session)
            except Exception:  # refused, reset, timed out: a failed handshake
                self.stats.handshake_failures += 1
                await asyncio.sleep(retry_delay(attempt))
                attempt += 1
                continue
            attempt = 0  # as the page (signal.js, onopen): a socket refused BUSY was open, its hint spreads
            pinger = asyncio.create_task(self.keep_alive(self.ws))
            was_connected = False
            try:
                async for raw in self.ws:
                    was_connected |= self.handle(json.loads(raw))
            except Exception:  # noqa: S110  (a drop: the close code says what comes next)
                pass
            finally:
                pinger.cancel()
            code = self.ws.close_code
            self.connected = False
            self.trail.append((time.monotonic(), f"closed {code}"))
            if self.stop or self.gone or code in FINAL:
                return
            # A BUSY refusal is not a drop: the socket never carried the room (the count of
            # drops included them, so a kill looked like more sockets lost than the process held).
            if was_connected:
                self.stats.drops += 1
                self.stats.silent += code == SILENT
            hint = self.hint if code == BUSY else 0.0
            if code == BUSY:
                self.stats.busy += 1
                self.stats.busy_hints.append(hint)
            self.hint = 0.0
            if self.want_since is None:
                self.want_since = time.monotonic()
            await asyncio.sleep(retry_delay(attempt, hint))
            attempt += 1

    async def keep_alive(self, ws) -> None:
        while True:
            await asyncio.sleep(PING_EVERY * random.uniform(0.9, 1.1))  # noqa: S311
            asked = time.monotonic()
            await self.send({"type": "ping"})
            await asyncio.sleep(PONG_WITHIN)
            if self.last_pong < asked:
                await ws.close(SILENT)  # a silent dead link: drop and reconnect, as the page does
                return

    async def send(self, message: dict) -> bool:
        if self.ws is None or not self.connected:
            return False
        try:
            await self.ws.send(json.dumps(message))
        except Exception:
            self.trail.append((time.monotonic(), f"send failed: {message['type']}"))
            return False
        if message["type"] == "chat.send":
            self.trail.append((time.monotonic(), f"sent chat {message['id']}"))
        return True

    def handle(self, m: dict) -> bool:
        """Handle one message; True when it shows the connection is established."""
        kind, now = m["type"], time.monotonic()
        self.trail.append((now, kind if kind != "chat.message" else f"chat.message {m['id']}"))
        if kind == "busy":
            self.hint = float(m.get("retry_after", 1))
        elif kind == "state":
            self.connected = True
            if self.want_since is not None:
                self.stats.connects.append(now - self.want_since)
                self.want_since = None
            self.status = m["you"]["status"]
            for message, _, _ in self.outbox.values():  # what was not acknowledged, again
                asyncio.create_task(self.send(message))
            # The agent admits who it sees waiting and present, as on the page.
            if self.moderator and self.admit_pid and any(p["pid"] == self.admit_pid and p["online"]
                                                         for p in m.get("lobby", [])):
                asyncio.create_task(self.admit())
            if self.probe_since is not None and self.status != "admitted":
                self.recover(now)
            return True
        elif kind == "lobby.waiting":
            if self.moderator and m["participant"]["pid"] == self.admit_pid:
                asyncio.create_task(self.admit())
        elif kind == "lobby.admitted":
            self.status = "admitted"
            asked = self.bench.admit_asked.pop(self.pid, None)
            if asked is not None:
                self.stats.admits.append(now - asked)
        elif kind == "chat.message":
            self.saw(m, now)
        elif kind == "chat.replay":
            if self.status != "admitted":
                self.stats.lobby_replays += 1
            for message in m["messages"]:
                self.saw(message, now)
        elif kind == "chat.ack":
            self.acked(m["id"], now)
        elif kind == "pong":
            self.last_pong = now
            if self.probe_since is not None and self.status != "admitted":
                self.recover(now)
        elif kind == "error":
            self.stats.errors[m["code"]] = self.stats.errors.get(m["code"], 0) + 1
            if m.get("ref") == "chat.send" and m["code"] == "server_error":
                asyncio.create_task(self.resend_later())  # the layer failed under it: again shortly
        return False

    async def resend_later(self) -> None:
        await asyncio.sleep(random.uniform(1, 2))  # noqa: S311
        for message, _, _ in list(self.outbox.values()):
            await self.send(message)

    def saw(self, m: dict, now: float) -> None:
        self.seen.add(m["id"])
        if m["pid"] == self.pid:
            self.acked(m["id"], now)

    def acked(self, chat_id: str, now: float) -> None:
        pending = self.outbox.pop(chat_id, None)
        if pending is not None:
            self.stats.chat_rtt.append(now - pending[1])
            self.stats.chat_at.append(now)
            self.stats.chat_phase.append(pending[2])
        if chat_id == self.probe_id:
            self.recover(now)

    def recover(self, now: float) -> None:
        if self.probe_since is not None:
            self.recovered = now - self.probe_since
            self.probe_since = self.probe_id = None

    async def admit(self) -> None:
        self.bench.admit_asked.setdefault(self.admit_pid, time.monotonic())
        await self.send({"type": "lobby.admit", "pid": self.admit_pid})

    async def chat(self, probe: bool = False) -> None:
        if self.status != "admitted":
            return
        self.count += 1
        chat_id = f"{self.pid[:8]}-{self.count}"
        message = {"type": "chat.send", "id": chat_id, "text": f"message {self.count}"}
        self.outbox[chat_id] = (message, time.monotonic(), self.bench.phase)
        self.stats.sent[chat_id] = (self.slug, self, self.bench.phase)
        if probe:
            self.probe_id = chat_id
        await self.send(message)

    async def traffic(self, chat_every: float) -> None:
        """Chat every ~chat_every s, a hand now and then, lobby.info while waiting; and after
        a fault, a probe as soon as connected (chat if admitted, ping if waiting)."""
        next_chat = time.monotonic() + random.uniform(0, chat_every)  # noqa: S311
        next_info = time.monotonic() + random.uniform(0, LOBBY_INFO_EVERY)  # noqa: S311
        hand = chatting = False
        while not self.stop and not self.gone:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            if self.bench.chatting and not chatting:
                # The steady traffic starts spread over a period, not with everyone at once.
                next_chat = now + random.uniform(0, chat_every)  # noqa: S311
            chatting = self.bench.chatting
            if not self.connected:
                continue
            if self.probe_since is not None and self.probe_id is None:
                if self.status == "admitted":
                    await self.chat(probe=True)
                else:
                    await self.send({"type": "ping"})
            if self.status == "admitted" and now >= next_chat and self.bench.chatting:
                next_chat = now + chat_every * random.uniform(0.5, 1.5)  # noqa: S311
                await self.chat()
                if random.random() < 0.2:  # noqa: S311
                    hand = not hand
                    await self.send({"type": "hand.set", "raised": hand})
            if self.status == "waiting" and now >= next_info:
                next_info = now + LOBBY_INFO_EVERY
                await self.send({"type": "lobby.info"})


class Bench:
    def __init__(self, proxy_port: int, scheme: str = "ws"):
        self.proxy_port, self.scheme = proxy_port, scheme
        self.stats = Stats()
        self.clients: list[Client] = []
        self.admit_asked: dict[str, float] = {}
        self.chatting = False
        self.phase = "storm"  # the phase a chat was sent in, for the count of losses
        self.tls = ssl.create_default_context()
        self.tls.check_hostname, self.tls.verify_mode = False, ssl.CERT_NONE  # the bench's own certificate

    async def open(self, slug: str, session: str):
        import websockets
        from django.conf import settings

        return await websockets.connect(
            f"{self.scheme}://127.0.0.1:{self.proxy_port}/ws/rooms/{slug}/",
            ssl=self.tls if self.scheme == "wss" else None,
            additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}",
                                "Origin": f"{self.scheme.replace('ws', 'http')}://127.0.0.1"},
            open_timeout=10, ping_interval=None, close_timeout=2, max_queue=None)

    def connected(self) -> int:
        return sum(c.connected for c in self.clients if not c.gone)


# --- measuring ---
def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(values: list[float]) -> str:
    if not values:
        return "n=0"
    return (f"p50 {pct(values, 0.5) * 1000:.0f} ms / p95 {pct(values, 0.95) * 1000:.0f} ms / "
            f"max {max(values) * 1000:.0f} ms (n={len(values)})")


def windows(at: list[float], values: list[float], width: float) -> str:
    """p95 of `values` per `width`-second window of `at` (spikes show where they are)."""
    if not at:
        return "n=0"
    start, out = at[0], collections.defaultdict(list)
    for t, v in zip(at, values, strict=True):
        out[int((t - start) // width)].append(v)
    return " ".join(f"{pct(out[k], 0.95) * 1000:.0f}" for k in sorted(out)) + " ms"


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def after(took: float | None, timeout: float) -> str:
    return f"{took:.1f} s" if took is not None else f"NOT within {timeout:g} s"


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    if len(samples) < 3:
        return float("nan")
    xs, ys = [t / 60 for t, _ in samples], [v for _, v in samples]
    return statistics.linear_regression(xs, ys).slope


def cpu_seconds(pid: int, children: bool = False) -> float:
    """CPU time (user + system) of a process, with its reaped children's if asked."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


class CpuMeter:
    """CPU seconds spent by each part of the tier (the two Daphne, PostgreSQL, Redis, nginx,
    this client): per handshake or per chat, a cost that the machine's load from other jobs
    changes much less than it changes latencies."""

    def __init__(self, daphnes: Daphnes, pg: Postgres, redis_server: Redis, proxy: Nginx):
        self.daphnes, self.pg, self.redis_server, self.proxy = daphnes, pg, redis_server, proxy
        self.dead: float = 0.0  # CPU of Daphne processes killed meanwhile (read just before)

    def read(self) -> dict[str, float]:
        postmaster = int((self.pg.folder / "postmaster.pid").read_text().split()[0])
        daphne = sum(cpu_seconds(p.pid) for p in self.daphnes.procs if p and p.poll() is None) + self.dead
        nginx = cpu_seconds(self.proxy.proc.pid) + sum(cpu_seconds(c) for c in children_of(self.proxy.proc.pid))
        redis_pid = self.redis_server.proc.pid if self.redis_server.proc else 0
        postgres = cpu_seconds(postmaster, children=True) + sum(cpu_seconds(c) for c in children_of(postmaster))
        return {"daphne": daphne, "postgres": postgres,
                "redis": cpu_seconds(redis_pid) if redis_pid else 0.0, "nginx": nginx,
                "client": cpu_seconds(os.getpid())}

    @staticmethod
    def per(before: dict[str, float], after: dict[str, float], count: int, unit: str) -> str:
        if count <= 0:
            return "n=0"
        parts = {k: max(0.0, after[k] - before[k]) * 1000 / count for k in after}  # a restarted Redis: 0
        server = sum(v for k, v in parts.items() if k != "client")
        return (f"CPU per {unit}: server {server:.1f} ms (" + ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
                + f" ms; n={count})")


class Sampler:
    """Every few seconds: Daphne RSS, PostgreSQL backends on the bench database, Redis clients."""

    def __init__(self, daphnes: Daphnes, pg_url: str, redis_url: str):
        self.daphnes, self.pg_url, self.redis_url = daphnes, pg_url, redis_url
        self.rss: list[list[tuple[float, float]]] = [[] for _ in daphnes.ports]
        self.db: list[int] = []
        self.redis: list[int] = []

    def sample(self) -> None:
        import psycopg
        import redis

        now = time.monotonic()
        for i, value in enumerate(self.daphnes.rss_mb()):
            if value is not None:
                self.rss[i].append((now, value))
        with contextlib.suppress(Exception), psycopg.connect(self.pg_url, connect_timeout=2) as conn:
            row = conn.execute("select count(*) from pg_stat_activity where datname = 'bench'").fetchone()
            self.db.append(int(row[0]) - 1 if row else 0)  # not this one
        with contextlib.suppress(Exception):
            self.redis.append(int(redis.Redis.from_url(self.redis_url, socket_timeout=2).info("clients")
                                  ["connected_clients"]) - 1)

    async def run(self, every: float = 5.0) -> None:
        while True:
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(every)


def redis_clients_by_command(url: str) -> dict[str, int]:
    import redis

    with contextlib.suppress(Exception), contextlib.closing(redis.Redis.from_url(url, socket_timeout=2)) as client:
        return dict(collections.Counter(c["cmd"] for c in client.client_list()).most_common(6))
    return {}


def make_rooms(n: int, waiting_share: float) -> list[tuple[str, str, str, str, str, bool]]:
    """n participants: n // 2 rooms, each an appointment booked through the booking code,
    with its agent (moderator) and citizen. (slug, agent pid, agent session, citizen pid,
    citizen session, citizen admitted?)"""
    from django.utils import timezone

    from rooms import presence
    from tests import factories
    from tests.rooms.conftest import session_for

    structure = factories.StructureFactory()
    agents = [factories.member(structure) for _ in range(max(1, n // 8))]
    rooms = []
    for i in range(n // 2):
        agent = agents[i % len(agents)]
        room = factories.appointment(structure, agent, start=timezone.now() + timezone.timedelta(minutes=i % 30)).room
        moderator = presence.enter_as_member(room, agent, moderator=True)
        citizen = presence.enter_as_guest(room, f"Citoyen {i}")
        rooms.append((room.slug, str(moderator.pid), session_for(room.slug, moderator.pid), str(citizen.pid),
                      session_for(room.slug, citizen.pid), random.random() >= waiting_share))  # noqa: S311
    return rooms


def online_pids() -> set[str]:
    from django.db import connection

    from rooms.models import Participant

    connection.close()  # PostgreSQL may have restarted since the last query
    return {str(pid) for pid in Participant.objects.filter(online=True).values_list("pid", flat=True)}


async def until(condition, timeout: float, every: float = 0.2) -> float | None:
    """Seconds until `condition()` held, or None if it did not within `timeout`."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if condition():
            return time.monotonic() - began
        await asyncio.sleep(every)
    return None


async def scenario(args, bench: Bench, daphnes: Daphnes, pg: Postgres, redis_server: Redis,
                   sampler: Sampler, meter: CpuMeter, rooms, proxy: Nginx) -> None:
    from asgiref.sync import sync_to_async

    for slug, apid, asession, cpid, csession, admitted in rooms:
        bench.clients.append(Client(bench, slug, apid, asession, True, cpid if admitted else None))
        bench.clients.append(Client(bench, slug, cpid, csession, False, None))
    n = len(bench.clients)
    sampling = asyncio.create_task(sampler.run())
    t0 = time.monotonic() + 0.5
    cpu = meter.read()
    runs = [asyncio.create_task(c.run(t0 + random.random() * args.storm_spread)) for c in bench.clients]  # noqa: S311
    traffic = [asyncio.create_task(c.traffic(args.chat_every)) for c in bench.clients]
    phases = args.phases.split(",")
    expected_admitted = sum(1 for c in bench.clients if c.moderator or any(
        o.admit_pid == c.pid for o in bench.clients if o.moderator))

    def all_connected() -> bool:
        return bench.connected() == sum(not c.gone for c in bench.clients)

    # --- storm ---
    t_wait = time.monotonic()
    took = await until(all_connected, args.storm_timeout)
    took_admitted = await until(lambda: sum(c.status == "admitted" and c.connected for c in bench.clients)
                                == expected_admitted, 30)
    print(f"[storm] {n} participants connecting within {args.storm_spread:g} s: all connected after "
          f"{after(took + t_wait - t0 if took is not None else None, args.storm_timeout)} "
          f"({bench.connected()}/{n} connected); admitted {expected_admitted} "
          f"{'ok' if took_admitted is not None else 'NOT all'}")
    print(f"         connect {ms(bench.stats.connects)}")
    print(f"         admit   {ms(bench.stats.admits)}")
    print(f"         handshake failures {bench.stats.handshake_failures}, BUSY refusals {bench.stats.busy} "
          f"(hints {pct(bench.stats.busy_hints, 0.5):.0f}-{max(bench.stats.busy_hints, default=0):.0f} s); "
          f"load average {load_average()}")
    print(f"         {meter.per(cpu, meter.read(), len(bench.stats.connects), 'connection')}")

    # --- steady ---
    bench.chatting, bench.phase = True, "steady"
    if "steady" in phases:
        rtt_before = len(bench.stats.chat_rtt)
        rss_from = [len(s) for s in sampler.rss]
        cpu, sent = meter.read(), len(bench.stats.sent)
        await asyncio.sleep(args.steady)
        print(f"         {meter.per(cpu, meter.read(), len(bench.stats.sent) - sent, 'chat')}")
        rtts = bench.stats.chat_rtt[rtt_before:]
        timeline = windows(bench.stats.chat_at[rtt_before:], rtts, 15)
        warm = [s[f + (len(s) - f) // 3:] for s, f in zip(sampler.rss, rss_from, strict=True)]
        slopes = ", ".join(f"{slope_mb_per_min(w):+.2f}" for w in warm)
        print(f"[steady] {args.steady:g} s, a chat every ~{args.chat_every:g} s per admitted participant: "
              f"chat round trip {ms(rtts)}")
        print(f"         p95 per 15 s: {timeline}; load average {load_average()}")
        print(f"         RSS {', '.join(f'{s[-1][1]:.0f}' for s in sampler.rss if s)} MB; slope after warm-up "
              f"{slopes} MB/min; errors {bench.stats.errors or 'none'}")

    async def fault(label: str, action) -> None:
        mark = bench.stats.mark()
        connects_before = len(bench.stats.connects)
        errors_before = collections.Counter(bench.stats.errors)
        began = time.monotonic()
        cpu = meter.read()
        bench.phase = label
        for c in bench.clients:
            if not c.gone:
                c.probe_since, c.probe_id, c.recovered = began, None, None
        await asyncio.to_thread(action)
        live = [c for c in bench.clients if not c.gone]
        took = await until(lambda: all(c.recovered is not None for c in live), args.recover_timeout)
        times = [c.recovered for c in live if c.recovered is not None]
        now = bench.stats.mark()
        print(f"[{label}] everyone back (own chat echoed, or pong while waiting) after "
              f"{after(took, args.recover_timeout)}: "
              f"{len(times)}/{len(live)} back, per participant {ms(times)}")
        for c in [c for c in live if c.recovered is None][:5]:  # what those not back lived
            print(f"         not back: {c.pid[:8]} {c.status}, connected {c.connected}, probe {c.probe_id}, "
                  f"outbox {list(c.outbox)}; last: " + ", ".join(
                      f"{at - began:+.1f} s {what}" for at, what in c.trail))
        print(f"         reconnections {now[0] - mark[0]} ({ms(bench.stats.connects[connects_before:])}), "
              f"drops {now[3] - mark[3]} (no pong: {now[4] - mark[4]}), handshake failures {now[1] - mark[1]}, "
              f"BUSY {now[2] - mark[2]}, "
              f"errors {dict(collections.Counter(bench.stats.errors) - errors_before) or 'none'}; "
              f"load average {load_average()}")
        if now[0] > mark[0]:
            print(f"         {meter.per(cpu, meter.read(), now[0] - mark[0], 'reconnection')} (with the traffic)")
        await asyncio.sleep(args.settle)

    if "redis" in phases:
        await fault("redis restart", lambda: redis_server.restart(args.down))
    if "postgres" in phases:
        await fault("postgres restart", pg.restart)
    if "kill" in phases:
        # Some participants close their tab during the outage and never come back: those
        # whose socket the killed process carried stay online in the database unless
        # presence is swept (ghosts); the others are closed cleanly.
        victims = [c for c in bench.clients if c.connected]
        leavers = random.sample(victims, int(len(victims) * args.leavers))  # noqa: S311
        for c in leavers:
            c.gone = True

        def kill() -> None:
            meter.dead += cpu_seconds(daphnes.procs[0].pid)  # type: ignore[union-attr]
            daphnes.kill(0)
            for c in leavers:
                if c.ws is not None:
                    asyncio.run_coroutine_threadsafe(c.ws.close(1000), loop)

        loop = asyncio.get_running_loop()
        await fault("SIGKILL of one Daphne", kill)
        await asyncio.sleep(max(0.0, args.ghost_wait - args.settle))
        online = await sync_to_async(online_pids)()
        connected = {c.pid for c in bench.clients if c.connected}
        ghosts = online - connected
        print(f"[ghosts] {args.ghost_wait:g} s after the kill ({len(leavers)} participants left for good): "
              f"{len(ghosts)} online in the database with no socket")

    # --- drain and count ---
    bench.chatting = False
    await until(lambda: all(not c.outbox for c in bench.clients if not c.gone), 15)
    recipients: dict[str, list[Client]] = {}
    for c in bench.clients:
        if c.status == "admitted" and not c.gone:
            recipients.setdefault(c.slug, []).append(c)
    unacked = sum(len(c.outbox) for c in bench.clients if not c.gone)
    lost_in: collections.Counter[str] = collections.Counter(
        phase for chat_id, (slug, sender, phase) in bench.stats.sent.items()
        if not sender.gone and any(chat_id not in c.seen for c in recipients.get(slug, [])))
    lost = sum(lost_in.values())
    print(f"[chat] {len(bench.stats.sent)} messages sent; lost (not seen by every admitted participant of the room "
          f"still there): {lost} {dict(lost_in) if lost else ''}; never acknowledged to their sender: {unacked}; "
          f"round trip overall "
          f"{ms(bench.stats.chat_rtt)}; replays to waiting guests: {bench.stats.lobby_replays}")
    by_phase: dict[str, list[float]] = collections.defaultdict(list)
    for phase, rtt in zip(bench.stats.chat_phase, bench.stats.chat_rtt, strict=True):
        by_phase[phase].append(rtt)
    print("         round trip by the phase it was sent in: " + "; ".join(
        f"{phase} p50 {pct(v, 0.5) * 1000:.0f} / p95 {pct(v, 0.95) * 1000:.0f} ms (n={len(v)})"
        for phase, v in by_phase.items()))

    # --- everyone hangs up ---
    for c in bench.clients:
        c.stop = True
        if c.ws is not None:
            with contextlib.suppress(Exception):
                await c.ws.close(1000)
    for task in traffic + runs:
        task.cancel()
    await asyncio.sleep(3)
    left_online = await sync_to_async(online_pids)()
    print(f"[hang-up] everyone closed: {len(left_online)} still online in the database 3 s later")
    sampling.cancel()
    await asyncio.to_thread(sampler.sample)
    print(f"[connections] PostgreSQL backends: max {max(sampler.db, default=0)}, last {sampler.db[-1:]}; "
          f"Redis clients: max {max(sampler.redis, default=0)}, last {sampler.redis[-1:]}")
    print(f"[connections] Redis clients by their last command: {redis_clients_by_command(redis_server.url)}")
    print(f"[daphne logs] {daphnes.log_counts()}")
    print(f"[nginx errors] {proxy.error_counts() or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=60, help="participants (two per room)")
    parser.add_argument("--storm-spread", type=float, default=1.0, help="all connect within this many seconds")
    parser.add_argument("--storm-timeout", type=float, default=60)
    parser.add_argument("--steady", type=float, default=20, help="seconds of steady traffic")
    parser.add_argument("--chat-every", type=float, default=10, help="seconds between chats of one participant")
    parser.add_argument("--waiting-share", type=float, default=0.1, help="citizens never admitted")
    parser.add_argument("--phases", default="storm,steady,redis,postgres,kill")
    parser.add_argument("--down", type=float, default=1.0, help="seconds Redis stays down")
    parser.add_argument("--recover-timeout", type=float, default=60)
    parser.add_argument("--settle", type=float, default=5)
    parser.add_argument("--leavers", type=float, default=0.05, help="share who never come back after the kill")
    parser.add_argument("--ghost-wait", type=float, default=30)
    parser.add_argument("--max-handshakes", type=int, default=None, help="ROOM_MAX_HANDSHAKES of the Daphnes")
    parser.add_argument("--asgi-threads", type=int, default=None, help="ASGI_THREADS of the Daphnes")
    parser.add_argument("--deadline", type=float, default=1800, help="the whole run stops after this many seconds")
    parser.add_argument("--backlog", type=int, default=1024,
                        help="Daphne's listen backlog (deploy/Procfile's; 0: Twisted's default, 50)")
    parser.add_argument("--websocket-connect-timeout", type=int, default=30,
                        help="Daphne's --websocket_connect_timeout (deploy/Procfile's; Daphne's default: 5)")
    parser.add_argument("--handshake-timeout", type=float, default=3.0,
                        help="ROOM_HANDSHAKE_TIMEOUT of the Daphnes (production's, portal/settings.py; "
                        "tests.settings' 20 s is for CI machines)")
    parser.add_argument("--queue-wait", type=float, default=None,
                        help="ROOM_HANDSHAKE_QUEUE_WAIT of the Daphnes (default: the settings')")
    parser.add_argument("--keep", action="store_true", help="keep the folder with the logs")
    parser.add_argument("--tls", action="store_true", help="HTTPS as deployed (the client and nginx then "
                        "spend their CPU on 600 TLS sessions)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gv-signalling-"))
    os.chmod(folder, 0o711)  # noqa: S103  (the postgres user reaches its cluster's folder inside)
    pg = redis_server = daphnes = proxy = None
    try:
        pg = Postgres(folder)
        redis_server = Redis(folder)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": pg.url,
               "REDIS_URL": redis_server.url, "CHANNELS_PREFIX": "bench", "MEDIA_REDIS_PREFIX": "bench:",
               "GV_VAR_DIR": str(folder / "var"), "PYTHONUNBUFFERED": "1"}
        # The Daphnes run tests.settings (the bench's test secrets), with production's handshake
        # time limit unless told: tests.settings only sets it when the environment does not.
        env["ROOM_HANDSHAKE_TIMEOUT"] = f"{args.handshake_timeout:g}"
        if args.queue_wait is not None:
            env["ROOM_HANDSHAKE_QUEUE_WAIT"] = f"{args.queue_wait:g}"
        if args.max_handshakes is not None:
            env["ROOM_MAX_HANDSHAKES"] = str(args.max_handshakes)
        if args.asgi_threads is not None:
            env["ASGI_THREADS"] = str(args.asgi_threads)
        os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL",
                                               "CHANNELS_PREFIX", "GV_VAR_DIR")})
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        began = time.monotonic()
        rooms = make_rooms(args.n, args.waiting_share)
        print(f"[setup] {len(rooms)} appointments booked, {2 * len(rooms)} participants in "
              f"{time.monotonic() - began:.1f} s; PostgreSQL :{pg.port}, Redis :{redis_server.port}")
        from django.db import connection

        connection.close()
        daphnes = Daphnes(folder, env, args.backlog, args.websocket_connect_timeout)
        proxy = Nginx(folder, daphnes.ports, tls=args.tls)
        print(f"[setup] Daphne pids {[p.pid for p in daphnes.procs if p]}, ports {daphnes.ports}", flush=True)
        bench = Bench(proxy.port, proxy.scheme)
        sampler = Sampler(daphnes, pg.url, redis_server.url)
        meter = CpuMeter(daphnes, pg, redis_server, proxy)

        async def bounded() -> None:
            await asyncio.wait_for(scenario(args, bench, daphnes, pg, redis_server, sampler, meter, rooms, proxy),
                                   args.deadline)

        asyncio.run(bounded())
    finally:
        for server in (proxy, daphnes, redis_server, pg):
            if server is not None:
                server.stop()
        if args.keep:
            print(f"logs kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
