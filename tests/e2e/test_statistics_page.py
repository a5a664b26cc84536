"""A manager opens the statistics page of a structure with a year of generated history:
the charts are drawn (SVG with their tables), and axe finds no serious violation."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.e2e import harness
from tests.e2e.conftest import login_agent
from tests.e2e.test_accessibility import serious_violations

pytestmark = pytest.mark.e2e


@pytest.fixture
def manager_with_history(e2e_db, django_db_blocker):
    from django.utils import timezone

    from portal.models import Role
    from portal.stats import counters as statistics
    from tests import factories
    from tests.retention.history import generate

    with django_db_blocker.unblock():
        structure = factories.StructureFactory(name="Mairie aux statistiques")
        manager = harness.make_member(structure, Role.MANAGER, first_name="Maude", last_name="Manager")
        agents = [harness.make_member(structure, Role.AGENT, first_name=name, last_name="Agent")
                  for name in ("Alice", "Bruno", "Chloé")]
        now = timezone.now()
        generate(structure, agents, 600, now - dt.timedelta(days=2), days=360)
        statistics.count_settled(structure, now)
        return manager, structure


def test_a_manager_sees_the_charts_and_axe_is_clean(server, manager_with_history, browsers):
    manager, structure = manager_with_history
    page = browsers.open("manager")
    login_agent(page, server.base, manager, "/admin/")
    page.click("a[href='/admin/statistics/']")
    page.wait_for_selector("svg.gv-chart")
    assert page.locator("h1").inner_text().endswith(structure.name)
    charts = page.locator("svg.gv-chart[role=img]")
    assert charts.count() == 7
    for i in range(charts.count()):
        labelled = charts.nth(i).get_attribute("aria-labelledby").split()
        assert all(page.locator(f"#{part}").count() == 1 for part in labelled)
    assert page.locator("svg.gv-chart rect").count() > 50  # bars drawn from the counters
    page.locator("details summary").first.click()
    assert page.locator("details[open] table tbody tr").count() >= 50  # a row per week
    assert serious_violations(page) == [], "statistics page"
    agents = page.locator("table").last.locator("tbody tr")
    assert agents.count() == 3
    with page.expect_download() as download:
        page.click("a[download]")
    assert download.value.suggested_filename.startswith("statistiques-")


def test_the_citizen_data_page_is_axe_clean_with_results(server, manager_with_history, browsers):
    manager, _structure = manager_with_history
    page = browsers.open("manager")
    login_agent(page, server.base, manager, "/admin/citizen-data/")
    page.fill("#id_term", "06 10 00 00 05")  # a generated citizen (tests/retention/history.py)
    page.click("button[value=search]")
    page.wait_for_selector("button[value=json]")
    assert serious_violations(page) == [], "citizen data page with results"
    page.click("button[value=erase]")  # not confirmed: an error, said next to the box
    page.wait_for_selector(".errornote")
    assert serious_violations(page) == [], "citizen data page with an error"
