"""Statistics and retention at scale, on PostgreSQL with DATABASE_URL (else SQLite in a
temporary folder); a throw-away test database is created and dropped:

1. The managers' statistics page over a year, for a structure with 1,000, 10,000 then 100,000
   appointments (tests/retention/history.py): SQL queries (must be equal) and render time
   (target < 300 ms at 100,000), with the ratios to 1,000 and to 10,000 (where every
   week x agent cell of the counters is filled: the page's work stops growing there).
2. The retention purge of those 100,000 appointments, all past their retention, in batches
   of RETENTION_BATCH_SIZE: rows per second, and Python memory (tracemalloc) after each tenth
   of the batches, to show it stays flat whatever the number of rows.

`./dev bench` runs it; or `DATABASE_URL=postgres://... .venv/bin/python bench/statistics_bench.py [SIZE]`.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GV_VAR_DIR", tempfile.mkdtemp(prefix="gv-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

from portal import retention  # noqa: E402
from portal.models import Appointment, Role, Structure, WeeklyCount  # noqa: E402
from portal.stats import counters as counting  # noqa: E402
from tests import factories  # noqa: E402
from tests.retention.history import generate  # noqa: E402

TARGET_MS = 300


def measure(client: Client, url: str, repeat: int = 11) -> tuple[int, float]:
    for _ in range(3):  # warm caches and lazy imports
        assert client.get(url).status_code == 200
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    count = len(queries)
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - began)
    return count, statistics.median(times)


def statistics_page(structure: Structure, agents: list, manager, sizes: tuple[int, int, int], now: dt.datetime) -> bool:
    client = factories.signed_in(Client(), manager)  # both factors, as a manager signs in
    first = (now - dt.timedelta(days=364)).date()
    url = f"/admin/statistics/?structure={structure.pk}&first={first}&last={now.date()}"
    results = {}
    for size in sizes:
        missing = size - Appointment.objects.filter(structure=structure).count()
        began = time.perf_counter()
        generate(structure, agents, missing, now - dt.timedelta(days=2), days=362, seed=size)
        generated = time.perf_counter() - began
        began = time.perf_counter()
        counted = counting.count_settled(structure, now, batch_size=2000)
        elapsed = time.perf_counter() - began
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # what autovacuum does after such a load in production
                cursor.execute("ANALYZE")
        results[size] = measure(client, url)
        print(f"{size:>7} appointments: generated in {generated:.1f} s; {counted} counted in {elapsed:.1f} s "
              f"({counted / max(elapsed, 1e-9):,.0f}/s); page: {results[size][0]} queries, "
              f"{results[size][1] * 1000:.1f} ms (median of 11)")
    (q_small, t_small), (q_mid, t_mid), (q_big, t_big) = (results[size] for size in sizes)
    # The page's work is bounded by weeks x agents x metrics, not by appointments: at 1,000 a
    # year most (week, agent) cells are still empty, from ~10,000 on they are all filled.
    print(f"counter rows: {WeeklyCount.objects.filter(structure=structure).count():,}")
    print(f"queries equal: {q_small == q_mid == q_big} ({q_small}, {q_mid}, {q_big}); render time ratio "
          f"{sizes[2]}/{sizes[0]}: {t_big / t_small:.2f}x, {sizes[2]}/{sizes[1]}: {t_big / t_mid:.2f}x; "
          f"{sizes[2]} under {TARGET_MS} ms: {t_big * 1000 < TARGET_MS}")
    return q_small == q_mid == q_big


def purge(now: dt.datetime) -> None:
    settings.NOTIFICATIONS_SMS_BACKEND = "notifications.backends.memory.MemoryBackend"
    later = now + dt.timedelta(days=400)  # everything is past its retention
    planned = retention.run(later, dry_run=True)
    rows = sum(planned.purged.values())
    batches = sum(-(-n // settings.RETENTION_BATCH_SIZE) for n in planned.purged.values())
    samples: list[tuple[int, int, int]] = []  # (batches done, current, peak) bytes
    done = [0]

    def progress(kind: str, purged: int) -> None:
        done[0] += 1
        if done[0] % max(1, batches // 10) == 0 or done[0] == batches:
            current, peak = tracemalloc.get_traced_memory()
            samples.append((done[0], current, peak))

    tracemalloc.start()
    began = time.perf_counter()
    result = retention.run(later, progress=progress)
    elapsed = time.perf_counter() - began
    tracemalloc.stop()
    print(f"purge: {rows:,} rows in {batches} batches of {settings.RETENTION_BATCH_SIZE} "
          f"({', '.join(f'{k} {n:,}' for k, n in result.purged.items())}) in {elapsed:.1f} s "
          f"({rows / elapsed:,.0f} rows/s, under tracemalloc)")
    print("memory (Python heap, tracemalloc) by batches done: " + "; ".join(
        f"{n}: {current / 1e6:.1f} MB (peak {peak / 1e6:.1f})" for n, current, peak in samples))
    first_peak, last_peak = samples[0][2], samples[-1][2]
    print(f"peak after the first tenth {first_peak / 1e6:.1f} MB, at the end {last_peak / 1e6:.1f} MB: "
          f"ratio {last_peak / first_peak:.2f}")
    assert retention.run(later).purged == {}, "a second run changes nothing"


def main() -> None:
    print(f"database: {connection.vendor} (production runs PostgreSQL: set DATABASE_URL)")
    big = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        structure = factories.StructureFactory(name="Bench")
        agents = [factories.member(structure, Role.AGENT) for _ in range(12)]
        manager = factories.member(structure, Role.MANAGER)
        now = timezone.now()
        equal = statistics_page(structure, agents, manager, (1000, 10_000, big), now)
        purge(now)
        if not equal:
            sys.exit(1)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
