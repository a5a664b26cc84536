"""Room tools with real browsers (Chromium's fake microphone sends a beeping tone): speaker
view shows the person speaking, never yourself when someone else is there, and follows who
makes sound; an emoji reaction reaches the other side; the agent lowers a raised hand, then
all hands. The citizen is on a phone."""

from __future__ import annotations

import pytest

from tests.e2e import steps
from tests.e2e.conftest import WAIT

pytestmark = [pytest.mark.e2e]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def wait_big_tile(page, pid: str) -> None:
    """The stage's big tile (speaker view) becomes `pid`'s, and it is the one drawn large."""
    page.wait_for_function(
        """(pid) => {
            const big = document.querySelector('#gv-stage.gv-stage--speaker .gv-tile--speaker');
            const others = [...document.querySelectorAll('#gv-stage .gv-tile:not(.gv-tile--speaker)')];
            return big?.dataset.pid === pid
                && others.every((t) => t.getBoundingClientRect().height < big.getBoundingClientRect().height);
        }""",
        arg=pid, timeout=WAIT, polling=200,
    )


def speaker_view(page) -> None:
    assert page.text_content("#gv-btn-view").strip() == "Vue : mosaïque"
    page.click("#gv-btn-view")
    page.wait_for_selector("#gv-stage.gv-stage--speaker", timeout=WAIT)
    assert page.text_content("#gv-btn-view").strip() == "Vue : intervenant"  # says the mode it is in
    page.wait_for_function("() => document.getElementById('gv-status').textContent.includes('Vue intervenant')",
                           timeout=WAIT)


def set_mic(page, on: bool) -> None:
    if (page.get_attribute("#gv-btn-mic", "aria-pressed") == "true") == on:  # pressed: muted
        page.click("#gv-btn-mic")


def test_speaker_view_reactions_and_lowered_hands(server, booked, browsers):
    agent, room = booked
    base = server.base
    agent_page = browsers.open("agent")
    citizen = browsers.open("citizen", **PHONE)
    paul = browsers.open("paul")

    # Alone, the agent's own tile is the big one.
    agent_pid = steps.agent_enters(agent_page, base, agent, room)
    speaker_view(agent_page)
    wait_big_tile(agent_page, agent_pid)

    # The citizen comes in: the agent's big tile goes to her at once, hers shows the agent.
    steps.citizen_prejoin(citizen, base, room)
    steps.submit_join(citizen, "Jeanne Dupont", room.password)
    citizen_pid = steps.citizen_waits(citizen, room)
    steps.admit(agent_page, citizen_pid)
    steps.assert_media_flows(citizen, [agent_pid])
    wait_big_tile(agent_page, citizen_pid)
    speaker_view(citizen)
    wait_big_tile(citizen, agent_pid)

    # A third person: the big tile follows the one who makes sound.
    paul.goto(f"{base}/r/{room.slug}/")
    steps.submit_join(paul, "Paul Martin", room.password)
    paul_pid = steps.citizen_waits(paul, room)
    steps.admit(agent_page, paul_pid)
    steps.assert_media_flows(citizen, [agent_pid, paul_pid])
    set_mic(agent_page, False)
    wait_big_tile(citizen, paul_pid)
    set_mic(agent_page, True)
    set_mic(paul, False)
    wait_big_tile(citizen, agent_pid)
    # Paul's last sound fades out of the speaking set after the hysteresis (speaker.js), not at once.
    citizen.wait_for_function("(pid) => !window.gvDebug.speakers.speaking.has(pid)", arg=paul_pid, timeout=WAIT)
    # Never herself, whoever is quiet.
    set_mic(agent_page, False)
    citizen.wait_for_function("(pid) => !window.gvDebug.speakers.speaking.has(pid)", arg=agent_pid, timeout=WAIT)
    assert citizen.evaluate("() => document.querySelector('.gv-tile--speaker').dataset.pid") != citizen_pid

    # Reaction: the citizen picks "D'accord"; the agent sees it on her tile and hears it said.
    citizen.click("#gv-btn-react")
    assert citizen.get_attribute("#gv-btn-react", "aria-expanded") == "true"
    citizen.get_by_role("button", name="D'accord").click()
    assert citizen.is_hidden("#gv-reactions")
    agent_page.wait_for_selector(f".gv-tile[data-pid='{citizen_pid}'] .gv-reaction[data-reaction='thumbs_up']",
                                 timeout=WAIT)
    assert agent_page.text_content(f".gv-tile[data-pid='{citizen_pid}'] .gv-reaction") == "👍"
    agent_page.wait_for_function(
        "() => document.getElementById('gv-status').textContent === 'Jeanne Dupont réagit : D\\'accord'", timeout=WAIT)
    paul.wait_for_selector(f".gv-tile[data-pid='{citizen_pid}'] .gv-reaction", timeout=WAIT)

    # The citizen raises her hand; the agent lowers it from the participants list.
    citizen.click("#gv-btn-hand")
    agent_page.wait_for_selector(f"#gv-people-list li[data-pid='{citizen_pid}'] [data-act='mod.lower_hand']",
                                 timeout=WAIT)
    agent_page.click(f"#gv-people-list li[data-pid='{citizen_pid}'] [data-act='mod.lower_hand']")
    citizen.wait_for_function("() => document.getElementById('gv-btn-hand').getAttribute('aria-pressed') === 'false'",
                              timeout=WAIT)
    assert citizen.text_content("#gv-btn-hand").strip() == "Lever la main"
    citizen.wait_for_function("() => document.getElementById('gv-status').textContent.includes('a baissé votre main')",
                              timeout=WAIT)
    agent_page.wait_for_selector(f".gv-tile[data-pid='{citizen_pid}']:not(.gv-tile--hand)", timeout=WAIT)

    # Both citizens raise their hands; "Lower all hands" lowers both.
    citizen.click("#gv-btn-hand")
    paul.click("#gv-btn-hand")
    agent_page.wait_for_function(
        "(pids) => pids.every((p) => window.gvDebug.people().find((x) => x.pid === p)?.hand)",
        arg=[citizen_pid, paul_pid], timeout=WAIT)
    agent_page.click("#gv-lower-hands")
    for page in (citizen, paul):
        page.wait_for_function("() => document.getElementById('gv-btn-hand').getAttribute('aria-pressed') === 'false'",
                               timeout=WAIT)
    agent_page.wait_for_selector("#gv-lower-hands[hidden]", state="attached", timeout=WAIT)
    for page in (agent_page, citizen, paul):
        assert steps.csp_errors(page) == []
