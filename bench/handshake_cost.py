"""What one room socket costs the signalling tier, on ONE Daphne process, nothing else running
through it: CPU per handshake, per chat message and per close (Daphne, PostgreSQL, Redis),
database transactions and Redis commands per handshake and per chat.

Why: bench/signalling_load.py's recovery times depend on how many handshakes a Daphne
process takes per second, and on this shared machine its latencies follow the other jobs'
load; CPU seconds and round trips per operation change much less with that load. The
baseline, measured in the same run, is a plain HTTP request (`/healthz`) through the same
Daphne: the handshake's cost is printed as a ratio to it.

A private PostgreSQL cluster and Redis (as bench/signalling_load.py), sockets opened straight
to Daphne, `--concurrency` at a time, each waiting for its `state`.
Usage: .venv/bin/python bench/handshake_cost.py [--sockets 300] [--concurrency 8] [--chats 600]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from signalling_load import Daphnes, Postgres, Redis, children_of, cpu_seconds, load_average  # noqa: E402


class Counters:
    """CPU seconds of Daphne, PostgreSQL and Redis; PostgreSQL transactions; Redis commands."""

    def __init__(self, daphne_pid: int, pg: Postgres, redis_server: Redis):
        self.daphne_pid, self.pg, self.redis_server = daphne_pid, pg, redis_server

    def read(self) -> dict[str, float]:
        import psycopg
        import redis

        postmaster = int((self.pg.folder / "postmaster.pid").read_text().split()[0])
        with psycopg.connect(self.pg.url, autocommit=True) as conn:
            row = conn.execute("select xact_commit + xact_rollback from pg_stat_database "
                               "where datname = 'bench'").fetchone()
        client = redis.Redis.from_url(self.redis_server.url)
        try:
            commands = sum(v["calls"] for k, v in client.info("commandstats").items()
                           if k not in ("cmdstat_info", "cmdstat_client|list"))
        finally:
            client.close()
        assert self.redis_server.proc is not None
        return {
            "daphne": cpu_seconds(self.daphne_pid),
            "postgres": cpu_seconds(postmaster, children=True) + sum(cpu_seconds(c) for c in children_of(postmaster)),
            "redis": cpu_seconds(self.redis_server.proc.pid),
            "pg transactions": float(row[0] if row else 0) - 1,  # less this reading's own
            "redis commands": float(commands),
        }

    def per(self, before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
        return {k: (after[k] - before[k]) / count for k in after}


def describe(unit: str, cost: dict[str, float]) -> str:
    cpu = cost["daphne"] + cost["postgres"] + cost["redis"]
    return (f"{unit}: CPU {cpu * 1000:.2f} ms (Daphne {cost['daphne'] * 1000:.2f}, PostgreSQL "
            f"{cost['postgres'] * 1000:.2f}, Redis {cost['redis'] * 1000:.2f}); "
            f"{cost['pg transactions']:.1f} PostgreSQL transactions, {cost['redis commands']:.1f} Redis commands")


def make_rooms(count: int) -> list[tuple[str, str, str, str]]:
    """(slug, agent session, citizen session, citizen pid): the citizen admitted, as in a call."""
    from django.utils import timezone

    from rooms import lobby, presence
    from tests import factories
    from tests.rooms.conftest import session_for

    structure = factories.StructureFactory()
    agent = factories.member(structure)
    rooms = []
    for _ in range(count):
        room = factories.appointment(structure, agent, start=timezone.now()).room
        moderator = presence.enter_as_member(room, agent, moderator=True)
        citizen = presence.enter_as_guest(room, "Jeanne")
        presence.move(room, str(citizen.pid), lobby.Status.ADMITTED)
        rooms.append((room.slug, session_for(room.slug, moderator.pid), session_for(room.slug, citizen.pid),
                      str(citizen.pid)))
    return rooms


async def open_socket(port: int, slug: str, session: str):
    import websockets
    from django.conf import settings

    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/rooms/{slug}/", open_timeout=30, ping_interval=None, max_queue=None,
        additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}", "Origin": "http://127.0.0.1"})
    while json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] != "state":
        pass
    return ws


async def bounded(concurrency: int, jobs):
    gate = asyncio.Semaphore(concurrency)

    async def one(job):
        async with gate:
            return await job()

    return await asyncio.gather(*(one(j) for j in jobs))


async def scenario(args, port: int, counters: Counters, rooms) -> None:
    # Baseline: plain HTTP requests through the same Daphne.
    def get() -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            response.read()

    for _ in range(20):  # warm-up (imports, first connections)
        await asyncio.to_thread(get)
    before = counters.read()
    await bounded(args.concurrency, [lambda: asyncio.to_thread(get) for _ in range(args.requests)])
    http = counters.per(before, counters.read(), args.requests)

    warm = [await open_socket(port, slug, agent) for slug, agent, _, _ in rooms[:5]]
    for ws in warm:
        await ws.close()
    await asyncio.sleep(1)
    # Handshakes: the agents first (moderators), then the citizens (admitted, into their call).
    before = counters.read()
    began = time.monotonic()
    agents = await bounded(args.concurrency, [lambda r=r: open_socket(port, r[0], r[1]) for r in rooms])
    citizens = await bounded(args.concurrency, [lambda r=r: open_socket(port, r[0], r[2]) for r in rooms])
    took = time.monotonic() - began
    await asyncio.sleep(1)  # what the handshakes broadcast is delivered
    handshake = counters.per(before, counters.read(), 2 * len(rooms))

    # Chat: each citizen says something, its agent hears it (and the citizen its own copy).
    async def chat(i: int) -> None:
        citizen, agent = citizens[i % len(rooms)], agents[i % len(rooms)]
        await citizen.send(json.dumps({"type": "chat.send", "id": f"c{i}", "text": "bonjour"}))
        while (m := json.loads(await asyncio.wait_for(agent.recv(), 30)))["type"] != "chat.message" \
                or m["id"] != f"c{i}":
            pass

    before = counters.read()
    await bounded(min(args.concurrency, len(rooms)), [lambda i=i: chat(i) for i in range(args.chats)])
    await asyncio.sleep(1)
    chat_cost = counters.per(before, counters.read(), args.chats)

    before = counters.read()
    for ws in citizens + agents:
        await ws.close()
    await asyncio.sleep(3)  # the disconnects run after the close
    close = counters.per(before, counters.read(), 2 * len(rooms))

    print(f"[baseline] {describe('HTTP GET /healthz', http)}")
    print(f"[handshake] {2 * len(rooms)} sockets, {args.concurrency} at a time, in {took:.1f} s "
          f"({2 * len(rooms) / took:.0f}/s); load average {load_average()}")
    print(f"            {describe('per handshake', handshake)}")
    ratio = handshake["daphne"] / http["daphne"] if http["daphne"] else float("nan")
    print(f"            Daphne CPU per handshake = {ratio:.1f} x an HTTP request's")
    print(f"[chat] {describe('per message', chat_cost)}")
    print(f"[close] {describe('per socket closed', close)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=300, help="sockets opened (two per room)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--chats", type=int, default=600)
    parser.add_argument("--requests", type=int, default=300, help="HTTP requests of the baseline")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gv-handshake-"))
    os.chmod(folder, 0o711)  # noqa: S103  (the postgres user reaches its cluster's folder inside)
    pg = redis_server = daphnes = None
    try:
        pg = Postgres(folder)
        redis_server = Redis(folder)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": pg.url,
               "REDIS_URL": redis_server.url, "CHANNELS_PREFIX": "bench", "MEDIA_REDIS_PREFIX": "bench:",
               "GV_VAR_DIR": str(folder / "var"), "PYTHONUNBUFFERED": "1"}
        os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL",
                                               "CHANNELS_PREFIX", "GV_VAR_DIR")})
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        rooms = make_rooms(args.sockets // 2)
        connection.close()
        daphnes = Daphnes(folder, env, backlog=1024, connect_timeout=30, count=1)
        assert daphnes.procs[0] is not None
        counters = Counters(daphnes.procs[0].pid, pg, redis_server)
        asyncio.run(scenario(args, daphnes.ports[0], counters, rooms))
    finally:
        for server in (daphnes, redis_server, pg):
            if server is not None:
                server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
