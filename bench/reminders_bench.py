"""10,000 reminders due in the same minute: Celery workers on Redis, local Twilio and SMTP.

    python bench/reminders_bench.py [--count 10000] [--workers 2] [--release-rate 100]

Two runs with the same workers: the baseline hands every reminder out at its due time
(NOTIFICATIONS_EARLY_SECONDS=0, as before), the measured run hands a burst out ahead at
NOTIFICATIONS_RELEASE_RATE, the last batch on time (notifications/tasks.py, `batches`).
In each, the appointments and their reminder rows are written in bulk with the same due
time, as if booked days before; one beat process runs the sweep, which queues them
(batches with an ETA) as production does; the workers send them through the Twilio SDK
to a local stand-in of Twilio's API (80%) and by SMTP to a local aiosmtpd (20%).
Printed: how many were sent, how many duplicates (messages the providers received beyond
one per reminder; must be 0), lateness after the due time as seen by the providers
(p50/p95/max), how early the earliest went, and ratios against the baseline. Target on a
2-core machine: all sent, 0 duplicates, p95 lateness under 10 s with 2 workers.

Needs Redis (REDIS_URL, else redis://127.0.0.1:6379/5). The database is a throw-away one:
a new PostgreSQL database on the DATABASE_URL server if set, else SQLite in a temp folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VAR = tempfile.mkdtemp(prefix="gv-reminders-bench-")
BENCH_DB = f"gv_bench_reminders_{os.getpid()}"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="reminders due in the same minute")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of both runs")
    parser.add_argument("--release-rate", type=float, default=100.0, help="NOTIFICATIONS_RELEASE_RATE, messages/s")
    parser.add_argument("--early", type=float, default=120.0, help="NOTIFICATIONS_EARLY_SECONDS of the measured run")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker process")
    parser.add_argument("--sms-share", type=float, default=0.8, help="share of reminders sent by SMS")
    parser.add_argument("--lead", type=float, default=15.0,
                        help="seconds from starting the workers to the due time, beyond the release window")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up this long after the due time")
    return parser.parse_args()


def database_env() -> tuple[str, object]:
    """A throw-away database: (DATABASE_URL, cleanup)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return f"sqlite:///{VAR}/bench.sqlite3", lambda: None
    import psycopg

    server = url.rsplit("/", 1)[0]
    admin = url.rsplit("/", 1)[0].replace("postgres://", "postgresql://", 1) + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')

    return f"{server}/{BENCH_DB}", drop


def main() -> None:
    args = parse()
    from tests.notifications.servers import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio, SmtpServer

    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/5"
    database_url, drop_database = database_env()
    twilio, smtp = FakeTwilio().start(), SmtpServer().start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "False",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "ROOM_PASSWORD_KEY": "u0mUjvmlXfIHOtFnYmm6pWPOC84qRJ4UTnJWhMNQh3k=",
        "SITE_URL": "https://visio.example.fr",
        "GV_VAR_DIR": VAR,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_url,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE_URL": twilio.url,
        "NOTIFICATIONS_SWEEP_SECONDS": "5",  # rows are written seconds before their due time here
        "NOTIFICATIONS_RELEASE_RATE": str(args.release_rate),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    try:
        call_command("migrate", verbosity=0)
        runs = [("at due time", 0.0), ("handed out ahead", args.early)]
        results = [(name, run(args, args.workers, early, env, twilio, smtp, redis_url)) for name, early in runs]
        report(args, results)
    finally:
        twilio.stop()
        smtp.stop()
        drop_database()


def seed(count: int, due: dt.datetime, sms_share: float) -> None:
    from django.contrib.auth import get_user_model

    from notifications.models import Kind, Notification
    from portal.models import Appointment, Channel, Membership, Role, Structure
    from rooms import secrets
    from rooms.models import Room

    Notification.objects.all().delete()
    Room.objects.all().delete()
    Appointment.objects.all().delete()
    structure, _ = Structure.objects.get_or_create(name="Mairie de Bench", defaults={"helpdesk_phone": "+33238000000"})
    agent, _ = get_user_model().objects.get_or_create(username="bench-agent")
    Membership.objects.get_or_create(user=agent, structure=structure, defaults={"role": Role.AGENT})
    start = due + dt.timedelta(minutes=structure.reminder_minutes)
    every = max(1, round(1 / max(1 - sms_share, 1e-9)))  # one in `every` by email
    appointments = Appointment.objects.bulk_create(
        Appointment(
            structure=structure,
            agent=agent,
            citizen_first_name="Jeanne",
            citizen_last_name=f"Dupont{i}",
            citizen_email=f"citizen{i}@example.org",
            citizen_phone=f"+336{i:08d}",
            preferred_channel=Channel.EMAIL if i % every == 0 else Channel.SMS,
            start=start,
            subject="Bench",
        )
        for i in range(count)
    )
    token = secrets.encrypt(secrets.new_password())
    Room.objects.bulk_create(Room(appointment=a, password_encrypted=token) for a in appointments)
    Notification.objects.bulk_create(
        Notification(appointment=a, kind=Kind.REMINDER, channel=a.preferred_channel, due_at=due) for a in appointments
    )


def start_process(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", *argv],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def run(args, workers: int, early: float, env: dict[str, str], twilio, smtp, redis_url: str) -> dict:
    import redis
    from django.utils import timezone

    from notifications.models import Notification, State

    redis.Redis.from_url(redis_url).delete("celery", "unacked", "unacked_index")  # no leftovers of a past run
    with twilio.lock:
        twilio.messages.clear()
        twilio.requests = 0
    with smtp.lock:
        smtp.received.clear()
    processes: list[subprocess.Popen] = []
    log = Path(VAR) / f"celery-{workers}.log"
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    try:
        seed(args.count, timezone.now() + dt.timedelta(days=1), args.sms_share)  # beyond the horizon for now
        # The due time: `lead` seconds from now, when the workers are up (the same for every
        # row), plus the release window so that the sweep can hand them out ahead.
        window = min(early, args.count / args.release_rate)
        due = timezone.now() + dt.timedelta(seconds=args.lead + window)
        Notification.objects.update(due_at=due)
        env = {**env, "NOTIFICATIONS_EARLY_SECONDS": str(early)}
        for i in range(workers):
            name = f"bench{i}-{uuid.uuid4().hex[:6]}@%h"
            argv = ["worker", "-n", name, "--pool=threads", f"--concurrency={args.threads}", "-l", "warning"]
            processes.append(start_process([*argv, "--without-gossip", "--without-mingle"], env, log))
        schedule = str(Path(VAR) / f"beat-{workers}")
        processes.append(start_process(["beat", "-l", "warning", "-s", schedule], env, log))
        deadline = due + dt.timedelta(seconds=args.timeout)
        while timezone.now() < deadline:
            if not Notification.objects.filter(status=State.QUEUED).exists():
                break
            time.sleep(0.5)
        sent = Notification.objects.filter(status=State.SENT).count()
    finally:
        for process in processes:
            stop(process)
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    cpu = [a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(cpu_after, cpu_before, strict=True)]
    due_ts = due.timestamp()
    with twilio.lock:
        received = [(m.to, m.created) for m in twilio.messages]
    with smtp.lock:
        received += [(m.recipients[0], m.received) for m in smtp.received]
    first: dict[str, float] = {}
    for to, at in received:
        first[to] = min(at, first.get(to, at))
    lateness = sorted(max(0.0, at - due_ts) for at in first.values())
    earliest = max((due_ts - at for at in first.values()), default=0.0)
    return {
        "earliest": max(earliest, 0.0),
        "sent": sent,
        "received": len(first),
        "duplicates": len(received) - len(first),
        "p50": percentile(lateness, 50),
        "p95": percentile(lateness, 95),
        "max": lateness[-1] if lateness else float("nan"),
        "cpu_celery": cpu[0],
        "cpu_providers": cpu[1],
        "log": str(log),
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def report(args, results: list[tuple[str, dict]]) -> None:
    (_, base), (_, measured) = results
    print(f"{args.count} reminders due at the same second, {args.workers} worker(s) of {args.threads} threads, "
          f"Redis broker, release rate {args.release_rate:g}/s")
    print(
        f"{'run':>17} {'sent':>7} {'received':>9} {'dupes':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7}"
        f" {'earliest s':>11} {'CPU s: celery':>14} {'fake providers':>15}"
    )
    for name, r in results:
        print(
            f"{name:>17} {r['sent']:>7} {r['received']:>9} {r['duplicates']:>6} {r['p50']:>7.1f} {r['p95']:>7.1f}"
            f" {r['max']:>7.1f} {r['earliest']:>11.1f} {r['cpu_celery']:>14.1f} {r['cpu_providers']:>15.1f}"
        )
    print(f"machine load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    def ratio(key: str) -> str:
        return f"{measured[key] / base[key]:.2f}x" if base[key] else "n/a (baseline 0)"

    print(f"ratio handed out ahead vs at due time: p95 {ratio('p95')}, max {ratio('max')}")
    ok = measured["sent"] == args.count and measured["duplicates"] == 0 and measured["p95"] < 10
    print(f"target (all sent, 0 duplicates, p95 lateness < 10 s): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
