"""ID check in the browser: Chromium's fake camera shows a synthetic ID card; the agent
asks, the citizen accepts, the agent's page shows the right name and "verified"; the
database keeps only the audit line."""

import datetime as dt

import pytest
from mrz.generator.td1 import TD1CodeGenerator

from media.idcheck.formats import MrzFormat
from media.idcheck.synthetic import SyntheticCard, write_y4m
from tests.e2e import steps

pytestmark = pytest.mark.e2e


def card_of_jeanne_dupont() -> SyntheticCard:
    """The appointment's citizen (harness.make_appointment: Jeanne Dupont) on a TD1 card."""
    birth, expiry, number = dt.date(1985, 4, 12), dt.date(2033, 6, 30), "X4RTBPFW4"
    text = str(TD1CodeGenerator("ID", "FRA", number, birth.strftime("%y%m%d"), "F", expiry.strftime("%y%m%d"),
                                "FRA", "DUPONT", "JEANNE"))
    return SyntheticCard(MrzFormat.TD1, tuple(text.splitlines()), "Dupont", "Jeanne", "DUPONT", "JEANNE",
                         birth, expiry, number)


def test_agent_reads_the_citizens_card_from_the_webcam(server, booked, browsers, django_db_blocker, tmp_path):
    agent, room = booked
    card = card_of_jeanne_dupont()
    video = write_y4m(card, seconds=3.0, fps=10, out_dir=str(tmp_path), rotation=2.0)
    agent_page = browsers.open("agent")
    citizen = browsers.open("citizen", extra_args=(f"--use-file-for-fake-video-capture={video}",))
    steps.agent_enters(agent_page, server.base, agent, room)
    steps.citizen_prejoin(citizen, server.base, room)
    steps.submit_join(citizen, "Jeanne Dupont", room.password)
    citizen_pid = steps.citizen_waits(citizen, room)
    steps.admit(agent_page, citizen_pid)
    citizen.wait_for_selector("#gv-call:not([hidden])")
    steps.wait_receiving(agent_page, [citizen_pid], frames=10)

    agent_page.click(f"#gv-people-list li[data-pid='{citizen_pid}'] [data-act='idcheck.start']")
    citizen.wait_for_selector("#gv-idcheck-ask:not([hidden])")
    assert citizen.is_visible(".gv-card-guide")  # how to hold the card
    assert "Alice Agent" in citizen.inner_text("#gv-idcheck-text")  # who asks
    citizen.wait_for_function("() => document.getElementById('gv-idcheck-flip').hidden")  # one camera here
    citizen.click("#gv-idcheck-accept")
    # The result within 10 s of the citizen's consent.
    agent_page.wait_for_selector("#gv-idcheck-result .fr-badge", timeout=10_000)
    result = agent_page.inner_text("#gv-idcheck-result")
    assert "DUPONT" in result and "JEANNE" in result
    assert agent_page.locator("#gv-idcheck-result .fr-badge--success").count() == 1, result

    with django_db_blocker.unblock():
        from rooms.models import IdentityCheck

        audit = IdentityCheck.objects.get(appointment=room.appointment)
        assert (audit.outcome, audit.document_type, audit.number_last4) == ("verified", "ID", "PFW4")
        stored = " ".join(str(v) for v in IdentityCheck.objects.filter(pk=audit.pk).values().get().values())
        assert "DUPONT" not in stored and card.document_number not in stored
