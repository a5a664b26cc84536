"""Join-to-admitted latency with many concurrent rooms on ONE Daphne process.

For N rooms at once (default 100), an agent and a citizen are connected; the citizen
waits in the lobby; every agent admits at the same moment. Latency = from the agent's
`lobby.admit` to the citizen's `lobby.admitted`. Baseline: the same with one room, in the
same run. Target: p95 < 150 ms at 100 rooms.
Usage: .venv/bin/python bench/admit_latency_bench.py [--rooms 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GV_VAR_DIR", tempfile.mkdtemp(prefix="gv-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.pop("REDIS_URL", None)  # one process: the in-memory channel layer

import django  # noqa: E402

django.setup()

import websockets  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from tests.rooms.test_two_daphne import daphnes, database_url  # noqa: E402


def make_rooms(count: int) -> list[tuple[str, str, str, str]]:
    """(slug, agent session, citizen session, citizen pid) for `count` fresh rooms."""
    from django.utils import timezone

    from rooms import presence
    from tests import factories
    from tests.rooms.conftest import session_for

    structure = factories.StructureFactory()
    agent = factories.member(structure)
    rooms = []
    for _ in range(count):
        room = factories.appointment(structure, agent, start=timezone.now()).room
        moderator = presence.enter_as_member(room, agent, moderator=True)
        citizen = presence.enter_as_guest(room, "Jeanne")
        rooms.append((room.slug, session_for(room.slug, moderator.pid), session_for(room.slug, citizen.pid),
                      str(citizen.pid)))
    return rooms


async def connect(port: int, slug: str, session: str):
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/rooms/{slug}/", open_timeout=30,
        additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}", "Origin": "http://127.0.0.1"},
    )
    return ws


async def until(ws, kind: str) -> None:
    async with asyncio.timeout(30):
        while json.loads(await ws.recv())["type"] != kind:
            pass


async def one_round(port: int, rooms, spread: float) -> list[float]:
    pairs = []
    for slug, agent_session, citizen_session, pid in rooms:
        agent = await connect(port, slug, agent_session)
        await until(agent, "state")
        citizen = await connect(port, slug, citizen_session)
        await until(agent, "lobby.waiting")
        pairs.append((agent, citizen, pid))

    async def admit(agent, citizen, pid) -> float:
        await asyncio.sleep(random.uniform(0, spread))  # noqa: S311  (load shape, not security)
        began = time.perf_counter()
        await agent.send(json.dumps({"type": "lobby.admit", "pid": pid}))
        await until(citizen, "lobby.admitted")
        return time.perf_counter() - began

    latencies = await asyncio.gather(*(admit(*pair) for pair in pairs))
    for agent, citizen, _ in pairs:
        await agent.close()
        await citizen.close()
    return list(latencies)


def reset(rooms) -> None:
    from rooms.models import Participant

    Participant.objects.filter(role="guest").update(status="waiting")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--spread", type=float, default=1.0,
                        help="admits fall at random within this many seconds (0: all at once)")
    args = parser.parse_args()
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old = connection.creation.create_test_db(verbosity=0)
    try:
        call_command("migrate", verbosity=0)
        baseline_rooms, many_rooms = make_rooms(1), make_rooms(args.rooms)
        os.environ["DATABASE_URL"] = database_url()
        with daphnes(1, redis=False) as (port,):
            results = {}
            cases = (("1 room", baseline_rooms, args.spread), (f"{args.rooms} rooms", many_rooms, args.spread),
                     (f"{args.rooms} rooms, all at once", many_rooms, 0.0))
            for label, rooms, spread in cases:
                samples: list[float] = []
                for _ in range(args.rounds):
                    reset(rooms)
                    samples += asyncio.run(one_round(port, rooms, spread))
                results[label] = samples
                print(f"{label:>26}: p50 {statistics.median(samples) * 1000:6.1f} ms  "
                      f"p95 {p95(samples) * 1000:6.1f} ms  max {max(samples) * 1000:6.1f} ms  (n={len(samples)})")
        base, many = results["1 room"], results[f"{args.rooms} rooms"]
        print(f"admits spread over {args.spread:g} s; p95 ratio {args.rooms} rooms / 1 room: "
              f"{p95(many) / p95(base):.1f}x  (target: p95 < 150 ms at {args.rooms} rooms)")
    finally:
        connection.creation.destroy_test_db(old, verbosity=0)


if __name__ == "__main__":
    main()
