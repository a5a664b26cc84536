"""What one typed batch costs the server in the shared notes (issue 17), by document size.

`rooms.notes.store.apply` is what the consumer runs per `notes.update`: read the row under a
lock, decode the document, apply and check the update, re-encode, read it back (fuzzing
found crafted updates that read otherwise once stored), save. Baseline, measured in the same
run: pycrdt's `apply_update` on a document kept in memory (what a server holding the
document in one process would pay, without checks or storage). SQLite in a temporary
folder (PostgreSQL adds a round trip per query). Documents of 1,000 / 5,000 / 20,000
characters (the maximum), 200 batches of 3 characters each.
"""

from __future__ import annotations

import base64
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e import harness  # noqa: E402

BATCHES = 200


def main() -> None:
    harness.bench_environment()
    from pycrdt import Doc, Text

    from rooms.notes import crdt, store
    from rooms.notes.models import NotesDocument

    _agent, room = harness.make_appointment()
    appointment = room.appointment
    print(f"{'characters':>10} {'store.apply p50 ms':>19} {'p95 ms':>8} {'baseline p50 ms':>16} {'ratio':>6}")
    for size in (1_000, 5_000, 20_000 - 3 * BATCHES):
        state = crdt.seed(("Pièces à fournir : passeport, justificatif. " * 500)[:size])
        NotesDocument.objects.update_or_create(appointment=appointment,
                                               defaults={"state": state, "text": crdt.text_of(state)})
        browser: Doc = Doc()
        text = browser.get("notes", type=Text)
        browser.apply_update(state)
        server: Doc = Doc()
        server.apply_update(state)
        timings, baseline = [], []
        for i in range(BATCHES):
            before = browser.get_state()
            text.insert(len(text) // 2, f"{i % 10}ab")
            update = browser.get_update(before)
            encoded = base64.b64encode(update).decode()
            started = time.perf_counter()
            store.apply(appointment, "moderator", encoded)
            timings.append(time.perf_counter() - started)
            started = time.perf_counter()
            server.apply_update(update)
            baseline.append(time.perf_counter() - started)
        assert NotesDocument.objects.get(appointment=appointment).text == str(text)
        p50, p95 = statistics.median(timings) * 1000, statistics.quantiles(timings, n=20)[18] * 1000
        base = statistics.median(baseline) * 1000
        print(f"{size:>10} {p50:>19.2f} {p95:>8.2f} {base:>16.3f} {p50 / base:>5.0f}x")


if __name__ == "__main__":
    main()
