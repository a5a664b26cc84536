"""Admin appointment list at 50 and at 5,000 appointments: SQL queries and render time.

Runs on a throw-away SQLite database (or DATABASE_URL if set). Prints the query counts
(must be equal) and the render-time ratio of 5,000 rows against the 50-row baseline.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GV_VAR_DIR", tempfile.mkdtemp(prefix="gv-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from portal.models import Appointment, Membership, Role, Structure  # noqa: E402
from rooms import secrets  # noqa: E402
from rooms.models import Room  # noqa: E402
from tests import factories  # noqa: E402


def grow_to(total: int, structure: Structure, agent) -> None:
    """Bulk-insert appointments (and their rooms) until `total` exist."""
    missing = total - Appointment.objects.count()
    start = timezone.now()
    token = secrets.encrypt(secrets.new_password())
    batch = Appointment.objects.bulk_create(
        Appointment(
            structure=structure, agent=agent, citizen_first_name="Jeanne", citizen_last_name=f"Dupont{i}",
            citizen_email="j@example.org", start=start + dt.timedelta(minutes=i), subject="Bench",
        )
        for i in range(missing)
    )
    Room.objects.bulk_create(Room(appointment=a, password_encrypted=token) for a in batch)


def measure(client: Client, url: str, repeat: int = 15) -> tuple[int, float]:
    for _ in range(5):  # warm caches and lazy imports before timing
        client.get(url)
    reset_queries()  # each request resets the log too: start from empty so the slice is right
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    count = len(queries)  # read now: the captured slice is taken lazily from a log later requests reset
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - began)
        assert response.status_code == 200
    return count, statistics.median(times)


def main() -> None:
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        from django.contrib.auth import get_user_model

        structure = Structure.objects.create(name="Bench")
        agent = get_user_model().objects.create_user("agent", password="x", is_staff=True)
        Membership.objects.create(user=agent, structure=structure, role=Role.AGENT)
        client = Client()
        factories.signed_in(client, agent)
        url = reverse("admin:portal_appointment_changelist") + "?day=all"
        results = {}
        for size in (50, 5000):
            grow_to(size, structure, agent)
            results[size] = measure(client, url)
            print(f"{size:>5} appointments: {results[size][0]} queries, {results[size][1] * 1000:.1f} ms per render")
        (q50, t50), (q5k, t5k) = results[50], results[5000]
        print(f"queries equal: {q50 == q5k} ({q50} vs {q5k})")
        print(f"render time ratio 5000/50: {t5k / t50:.2f}x")
        if q50 != q5k:
            sys.exit(1)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
