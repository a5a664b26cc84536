"""Issue 21, items 5 and 6: axe-core with every WCAG 2.1 A/AA rule and its good practices, of
any impact, on every page of the citizen's journey and of the back-office the agents use; the
whole journey with the keyboard alone; the first page's guidance for browsers that cannot
join (in-app browsers, old iOS, no WebRTC)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from portal import citizen as citizen_links
from rooms import tokens
from tests.e2e import steps
from tests.e2e.conftest import WAIT, login_agent

pytestmark = pytest.mark.e2e

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
ALL_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
FIRST_VISIT = """navigator.permissions.query = async () => ({ state: "prompt" });"""


def violations(page) -> list[str]:
    # Evaluated through the DevTools protocol, so the page's CSP does not apply to axe.
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE + "\n;undefined")
    return page.evaluate(
        """async (tags) => (await window.axe.run(document, {runOnly: {type: "tag", values: tags},
                                                           resultTypes: ["violations"]})).violations
            .map((v) => `${v.impact} ${v.id}: ${v.help} @ ` +
                 v.nodes.slice(0, 5).map((n) => `${n.target.join(" ")}`).join(", "))""",
        ALL_RULES,
    )


def path_of(url: str) -> str:
    return url.removeprefix(settings.SITE_URL)


def test_every_page_passes_every_rule(server, booked, browsers):
    agent, room = booked
    base = server.base
    found: dict[str, list[str]] = {}

    def check(page, name: str) -> None:
        found[name] = violations(page)

    agent_page = browsers.open("agent")
    agent_pid = steps.agent_enters(agent_page, base, agent, room)
    check(agent_page, "agent's call")

    citizen = browsers.open("citizen")
    citizen.goto(f"{base}{path_of(citizen_links.manage_url(room.appointment))}")
    check(citizen, "cancel or move")
    citizen.goto(f"{base}{path_of(citizen_links.test_url(room.appointment))}")
    check(citizen, "device test")
    citizen.evaluate("() => document.getElementById('gv-allow').click()")
    citizen.wait_for_function("() => document.body.dataset.gvTest", timeout=30_000)
    check(citizen, "device test with its verdict")
    for path in ("/accessibilite/", "/donnees-personnelles/"):
        citizen.goto(base + path)
        check(citizen, path)
    # The run finds what it should: an image without a text alternative, a good practice missed.
    citizen.evaluate("() => { const image = document.createElement('img'); image.src = '/x.png'; "
                     "document.querySelector('main').append(image, document.createElement('h4')); }")
    seen = violations(citizen)
    assert any(" image-alt:" in v for v in seen) and any(" empty-heading:" in v for v in seen), seen
    citizen.goto(f"{base}/r/{room.slug}/?t={tokens.make(room)}")
    check(citizen, "personal link")
    steps.citizen_prejoin(citizen, base, room)
    check(citizen, "join page with the preview")
    citizen.goto(f"{base}/r/{room.slug}/")
    steps.submit_join(citizen, "Jeanne Dupont", "not-the-code")
    citizen.wait_for_selector("#gv-password-error", timeout=WAIT)
    check(citizen, "join page with a form error")
    steps.submit_join(citizen, "Jeanne Dupont", room.password)
    citizen_pid = steps.citizen_waits(citizen, room)
    check(citizen, "waiting room")

    agent_page.wait_for_selector("#gv-waiting:not([hidden])", timeout=WAIT)
    agent_page.click("#gv-btn-people")
    check(agent_page, "agent's participants panel with someone waiting")
    steps.admit(agent_page, citizen_pid)
    steps.assert_media_flows(citizen, [agent_pid])
    check(citizen, "call")
    for panel in ("chat", "settings", "people"):
        citizen.click(f"#gv-btn-{panel}")
        check(citizen, f"call with the {panel} panel")
    agent_page.click("#gv-btn-info")
    check(agent_page, "agent's share panel")
    agent_page.click("#gv-btn-settings")
    check(agent_page, "agent's settings panel")
    agent_page.click("#gv-btn-people")
    agent_page.click(f"#gv-people-list li[data-pid='{citizen_pid}'] [data-act='idcheck.start']")
    citizen.wait_for_selector("#gv-idcheck-ask:not([hidden])", timeout=WAIT)
    check(citizen, "call with the identity check dialog")
    citizen.click("#gv-idcheck-accept")
    agent_page.wait_for_selector("#gv-idcheck-result .fr-badge", timeout=WAIT)
    check(agent_page, "agent's identity check result")
    citizen.click("#gv-btn-settings")
    citizen.click(".gv-toolbar [data-action='leave']")
    citizen.wait_for_selector("#gv-end:not([hidden])", timeout=WAIT)
    check(citizen, "end of the call")

    back = browsers.open("back-office")
    login_agent(back, base, agent, "/admin/day/")
    back.wait_for_url("**/admin/day/", timeout=WAIT)
    check(back, "day view")
    for path, name in (("/admin/", "back-office home"), ("/admin/portal/appointment/", "appointment list"),
                       ("/admin/portal/appointment/add/", "appointment add form"),
                       (f"/admin/portal/appointment/{room.appointment.pk}/change/", "appointment change form")):
        back.goto(base + path)
        check(back, name)

    assert {name: v for name, v in found.items() if v} == {}


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until `selector` has the focus; every stop on the way is a visible control."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        state = page.evaluate("""(sel) => { const a = document.activeElement;
            return {match: a.matches(sel), visible: a === document.body || a.checkVisibility(),
                    what: a.id || a.tagName}; }""", selector)
        assert state["visible"], f"focus on a hidden element: {state['what']}"
        if state["match"]:
            return
    raise AssertionError(f"{selector} not reached with Tab")


def test_the_journey_with_the_keyboard_alone(server, booked, browsers):
    agent, room = booked
    base = server.base
    agent_page = browsers.open("agent")
    agent_pid = steps.agent_enters(agent_page, base, agent, room)

    citizen = browsers.open("citizen")
    citizen.add_init_script(FIRST_VISIT)
    citizen.goto(f"{base}/r/{room.slug}/?t={tokens.make(room)}")
    tab_to(citizen, "#gv-allow")
    citizen.keyboard.press("Enter")
    citizen.wait_for_function("() => document.getElementById('gv-preview').videoWidth > 0", timeout=WAIT)
    tab_to(citizen, "#gv-enter")
    citizen.keyboard.press("Enter")
    citizen_pid = steps.citizen_waits(citizen, room)

    # The agent admits with the keyboard too.
    agent_page.wait_for_selector("#gv-waiting:not([hidden])", timeout=WAIT)
    agent_page.focus("#gv-btn-mic")
    tab_to(agent_page, "#gv-btn-people")
    agent_page.keyboard.press("Enter")
    tab_to(agent_page, f"#gv-lobby-list li[data-pid='{citizen_pid}'] [data-act='lobby.admit']")
    agent_page.keyboard.press("Enter")
    citizen.wait_for_selector("#gv-call:not([hidden])", timeout=WAIT)
    steps.assert_media_flows(citizen, [agent_pid])

    # In the call: mute, write in the chat, close the panel, leave.
    tab_to(citizen, "#gv-btn-mic")
    citizen.keyboard.press("Enter")
    assert citizen.get_attribute("#gv-btn-mic", "aria-pressed") == "true"
    tab_to(citizen, "#gv-btn-chat")
    citizen.keyboard.press("Enter")
    assert citizen.evaluate("() => document.activeElement.id") == "gv-chat-text"
    citizen.keyboard.type("Bonjour au clavier")
    citizen.keyboard.press("Enter")
    agent_page.wait_for_function(
        "() => document.getElementById('gv-chat-log').textContent.includes('Bonjour au clavier')", timeout=WAIT)
    tab_to(citizen, "#gv-panel-close")
    citizen.keyboard.press("Enter")
    assert citizen.evaluate("() => document.activeElement.id") == "gv-btn-chat"
    tab_to(citizen, ".gv-toolbar [data-action='leave']")
    citizen.keyboard.press("Enter")
    citizen.wait_for_selector("#gv-end:not([hidden])", timeout=WAIT)
    assert citizen.evaluate("() => document.activeElement.id") == "gv-end-title"


IN_APP_IOS = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Mobile/15E148 [FBAN/FBIOS;FBAV/455.0.0.38.107]")
IN_APP_ANDROID = ("Mozilla/5.0 (Linux; Android 13; SM-A536B; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
                  "Chrome/120.0.6099.144 Mobile Safari/537.36 Instagram 312.1.0.34.111 Android")
OLD_IOS = ("Mozilla/5.0 (iPhone; CPU iPhone OS 12_5_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/12.1.2 Mobile/15E148 Safari/604.1")
NO_WEBRTC = "delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;"


@pytest.mark.parametrize(("case", "user_agent", "script", "title", "blocking", "copy"), [
    ("in-app iOS", IN_APP_IOS, None, "Ouvrez ce lien dans votre navigateur", False, "Safari"),
    ("in-app Android", IN_APP_ANDROID, None, "Ouvrez ce lien dans votre navigateur", False, "Chrome"),
    ("old iOS", OLD_IOS, None, "Votre iPhone ou iPad doit être mis à jour", True, None),
    ("no WebRTC", None, NO_WEBRTC, "Navigateur non compatible", True, "navigateur"),
])
def test_the_first_page_guides_browsers_that_cannot_join(server, booked, browsers, case, user_agent, script,
                                                          title, blocking, copy):
    _agent, room = booked
    options = {"user_agent": user_agent} if user_agent else {}
    page = browsers.open(f"citizen-{case.replace(' ', '-')}", **options)
    if script:
        page.add_init_script(script)
    url = f"{server.base}/r/{room.slug}/?t={tokens.make(room)}"
    page.goto(url)
    page.wait_for_selector("#gv-check:not([hidden])", timeout=WAIT)
    assert page.text_content("#gv-check-title") == title
    if copy:
        assert copy in page.text_content("#gv-check-text")
    # Blocking: no camera step (it would fail); else the citizen may still try.
    assert page.is_hidden("#gv-prejoin") is blocking
    if case.startswith("in-app") or case == "no WebRTC":
        assert page.input_value("#gv-check-url") == url
        assert page.is_visible("#gv-check-copy-btn")
