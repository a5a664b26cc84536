"""Managers' statistics: counted once per appointment from what happened, read from the
counters with a constant number of queries, drawn as SVG with their tables, exported as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from portal import booking
from portal.models import Appointment, Role, Status, WeeklyCount
from portal.stats import counters as statistics
from tests import factories
from tests.retention.conftest import call, live, remind
from tests.retention.test_purge import T0

URL = "/admin/statistics/"


@pytest.fixture
def lived(structure_a, alice, twilio, smtp, django_capture_on_commit_callbacks):
    """In A, the week of T0 + 2 days: one held call (ID-checked), one no-show, one
    cancelled, one moved and held; counted a day after."""
    start = T0 + dt.timedelta(days=2)
    capture = django_capture_on_commit_callbacks
    with time_machine.travel(T0, tick=False):
        held = live(structure_a, alice, start, capture)
        absent = live(structure_a, alice, start + dt.timedelta(hours=1), capture, last="Absent")
        cancelled = live(structure_a, alice, start + dt.timedelta(hours=2), capture, last="Annule")
        moved = live(structure_a, alice, start + dt.timedelta(hours=3), capture, last="Deplace")
        with capture(execute=True):
            booking.cancel(cancelled.appointment)
            previous = moved.appointment.start
            moved.appointment.start = previous + dt.timedelta(hours=1)
            booking.update(moved.appointment, previous)
        moved.start = moved.appointment.start
    with time_machine.travel(start - dt.timedelta(minutes=14), tick=False):
        remind(capture)
    with time_machine.travel(start + dt.timedelta(minutes=1), tick=False):
        call(held, alice, capture)
    with time_machine.travel(absent.start + dt.timedelta(minutes=1), tick=False):
        call(absent, alice, capture, held=False)
    with time_machine.travel(moved.start + dt.timedelta(minutes=1), tick=False):
        call(moved, alice, capture, checked=False)
    with time_machine.travel(start + dt.timedelta(days=2), tick=False):
        assert statistics.count_settled(structure_a) == 4
    return held, absent, cancelled, moved


def test_each_appointment_is_counted_once_from_what_happened(lived, structure_a, alice):
    report = statistics.report(structure_a, T0.date(), T0.date() + dt.timedelta(days=6))
    total = report.total()
    assert total["booked"] == 4 and total["held"] == 2 and total["cancelled"] == 1 and total["no_show"] == 1
    assert total["moved"] == 1
    assert total["ended_normally"] == 2 and total["ended_failure"] == 0
    assert total["idcheck:verified"] == 1
    assert total["device:camera_denied"] == 3 and total["device:ok"] == 0  # the cancelled one is not tested
    assert total["msg:sms:sent"] >= 4 and total["sms_segments"] >= total["msg:sms:sent"]
    assert sum(v for k, v in total.items() if k.startswith("wait:")) == 2
    assert set(report.by_agent) == {alice.pk} and report.by_agent[alice.pk]["booked"] == 4
    assert report.weeks == [dt.date(2026, 3, 2)]
    before = list(WeeklyCount.objects.values_list("metric", "value"))
    with time_machine.travel(T0 + dt.timedelta(days=30), tick=False):
        assert statistics.count_settled(structure_a) == 0  # counted once
    assert list(WeeklyCount.objects.values_list("metric", "value")) == before


def test_the_page_shows_charts_with_their_tables_and_the_csv(lived, structure_a, maude, client_of):
    client = client_of(maude)
    page = client.get(URL, {"structure": structure_a.pk, "first": "2026-01-05", "last": "2026-03-31"})
    assert page.status_code == 200
    html = page.content.decode()
    svgs = re.findall(r'<svg class="gv-chart" role="img"[^>]*aria-labelledby="([^"]+)"', html)
    assert len(svgs) == 7
    for ids in svgs:
        for part in ids.split():
            assert f'id="{part}"' in html
    assert html.count("<details>") == 7 and html.count("<caption>") >= 8
    assert "<th scope=\"row\">02/03/26</th>" in html
    sheet = list(csv.reader(io.StringIO(client.get(URL, {"structure": structure_a.pk, "first": "2026-03-01",
                                                         "last": "2026-03-31", "format": "csv"}).content.decode())))
    assert sheet[0] == ["week", "agent", "metric", "value"]
    assert ["2026-03-02", "alice", "booked", "4"] in sheet


def test_the_page_reads_a_constant_number_of_queries(structure_a, maude, client_of):
    agents = [factories.member(structure_a) for _ in range(3)]
    client = client_of(maude)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL, {"structure": structure_a.pk, "first": "2025-03-01",
                                    "last": "2026-03-01"}).status_code == 200
        return len(captured)

    def fill(weeks: int) -> None:
        WeeklyCount.objects.bulk_create(
            WeeklyCount(structure=structure_a, agent=agent, week=dt.date(2025, 3, 3) + dt.timedelta(weeks=w),
                        metric=metric, value=n + 1)
            for w in range(weeks) for n, agent in enumerate(agents)
            for metric in ("booked", "held", "no_show", "wait:30", "wait:600", "device:ok", "msg:sms:sent"))

    fill(1)
    few = queries()
    WeeklyCount.objects.all().delete()
    fill(52)
    assert queries() == few


def test_only_managers_of_the_structure_see_it(structure_a, structure_b, alice, hugo, maude, client_of):
    assert client_of(alice).get(URL).status_code == 403
    assert client_of(hugo).get(URL).status_code == 403
    assert client_of(maude).get(URL, {"structure": structure_b.pk}).status_code == 400
    assert client_of(maude).get(URL, {"first": "2026-05-01", "last": "2026-01-01"}).status_code == 400
    assert client_of(maude).get(URL, {"first": "2000-01-01", "last": "2026-01-01"}).status_code == 400
    assert client_of(maude).get(URL, {"first": "pas une date"}).status_code == 400
    manager_b = factories.member(structure_b, Role.MANAGER)
    assert client_of(manager_b).get(URL).status_code == 200


def test_no_show_and_cancelled_are_exclusive():
    appointment = {"status": Status.CANCELLED, "moves": 0, "room__device_ok": None, "room__device_problems": ""}
    counts = statistics._metrics(appointment, [], [], [])
    assert counts["cancelled"] == 1 and counts["no_show"] == 0 and counts["device:untested"] == 0


@given(st.lists(st.floats(min_value=0, max_value=5000), min_size=1, max_size=200))
def test_percentiles_from_the_histogram_fall_in_the_right_bucket(waits):
    histogram = Counter(statistics.wait_metric(w) for w in waits)
    median, p90 = statistics.percentile(histogram, 0.5), statistics.percentile(histogram, 0.9)
    assert median is not None and p90 is not None and median <= p90
    ordered = sorted(waits)
    true_median = ordered[max(0, (len(ordered) + 1) // 2 - 1)]
    bounds = (0, *statistics.WAIT_BUCKETS)
    index = next((i for i, b in enumerate(statistics.WAIT_BUCKETS) if true_median <= b), None)
    lower, upper = (bounds[index], bounds[index + 1]) if index is not None else (3600, 3600)
    assert lower <= median <= upper


def test_percentile_of_nothing_is_none():
    assert statistics.percentile({}, 0.5) is None


def test_moving_counts_as_moved(structure_a, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = factories.appointment(structure_a, alice)
        previous = appointment.start
        appointment.start = previous + dt.timedelta(days=1)
        booking.update(appointment, previous)
    assert Appointment.objects.get(pk=appointment.pk).moves == 1


def test_chart_tables_and_svg_escape_what_they_show():
    """Titles, labels and values come from the database and the catalogs: markup in them is text."""
    from portal.stats import charts

    evil = '<img src=x onerror="alert(1)">&'
    chart = charts.stacked_bars(evil, evil, [evil, "w2"], [charts.Series(evil, [3, None])])
    html = str(chart.table()) + str(chart.svg)
    assert "<img" not in html
    assert html.count("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;") >= 4  # caption, header, row, title
    assert '<tr><th scope="row">w2</th><td>—</td></tr>' in html
