"""What a participant does in the browser, as small steps shared by the e2e tests."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.e2e.conftest import WAIT, login_agent


def agent_enters(page, base: str, agent, room) -> str:
    """The agent signs in and opens the room: the agent's pid."""
    login_agent(page, base, agent, f"/r/{room.slug}/agent/")
    page.wait_for_url(f"**/r/{room.slug}/room/", timeout=WAIT)
    page.wait_for_selector("#gv-call:not([hidden])", timeout=WAIT)
    return page.evaluate("JSON.parse(document.getElementById('gv-config').textContent).pid")


def citizen_prejoin(page, base: str, room) -> None:
    """Open the link and try the camera and microphone (preview plays, meter moves)."""
    page.goto(f"{base}/r/{room.slug}/")
    page.wait_for_selector("#gv-prejoin:not([hidden])", timeout=WAIT)
    # A first visit asks by the button; when Chrome already reports the permission as
    # granted, the page starts by itself and hides the button (a second click is harmless).
    page.evaluate("() => document.getElementById('gv-allow').click()")
    page.wait_for_function(
        "() => document.getElementById('gv-preview').videoWidth > 0", timeout=WAIT, polling=200
    )
    # The fake microphone beeps once a second: the meter must move.
    page.wait_for_function("() => document.getElementById('gv-level').value > 0.05", timeout=WAIT, polling=50)


def submit_join(page, name: str, password: str) -> None:
    page.fill("#id_name", name)
    page.fill("#id_password", password)
    page.click("#gv-join")
    page.wait_for_load_state("domcontentloaded")


def citizen_follows_link(page, url: str) -> None:
    """Open the personal link and press "Entrer dans la salle d'attente": the link binds on
    this click, not on the page load (rooms/views.py `_personal_link`)."""
    page.goto(url)
    page.click("#gv-enter")


def citizen_enters_without_the_code(page, url: str, room) -> str:
    """The personal link, on a device no scanner or preview spoiled: no "already open
    elsewhere", no code asked, one click to the waiting room. The citizen's pid."""
    page.goto(url)
    assert page.query_selector("#gv-held-elsewhere") is None and page.query_selector("#id_password") is None
    page.click("#gv-enter")
    return citizen_waits(page, room)


def citizen_waits(page, room) -> str:
    """After the right password: the room page shows the waiting room. The citizen's pid."""
    page.wait_for_url(f"**/r/{room.slug}/room/", timeout=WAIT)
    page.wait_for_selector("#gv-lobby:not([hidden])", timeout=WAIT)
    return page.evaluate("JSON.parse(document.getElementById('gv-config').textContent).pid")


def admit(agent_page, pid: str) -> None:
    """The agent sees `pid` waiting, opens the participants panel and lets them in."""
    agent_page.wait_for_selector("#gv-waiting:not([hidden])", timeout=WAIT)
    if agent_page.get_attribute("#gv-btn-people", "aria-expanded") != "true":
        agent_page.click("#gv-btn-people")
    agent_page.click(f"#gv-lobby-list li[data-pid='{pid}'] [data-act='lobby.admit']")


def meet(agent_page, citizen, base: str, agent, room) -> tuple[str, str]:
    """The agent opens the room, the citizen comes with the code and is admitted, media
    flows both ways: (agent's pid, citizen's pid)."""
    agent_pid = agent_enters(agent_page, base, agent, room)
    citizen_prejoin(citizen, base, room)
    submit_join(citizen, "Jeanne Dupont", room.password)
    citizen_pid = citizen_waits(citizen, room)
    admit(agent_page, citizen_pid)
    assert_media_flows(citizen, [agent_pid])
    assert_media_flows(agent_page, [citizen_pid])
    return agent_pid, citizen_pid


def wait_receiving(page, pids: list[str], frames: int = 0, energy: float = 0.0) -> dict:
    """Wait until this page decodes video frames and audio energy from every pid
    beyond the given marks; return the figures."""
    # wait_for_function does not await a promise: the predicate starts a measure and
    # judges the last finished one (of this wait: the cache is emptied first).
    page.evaluate("() => { window.gvLastReceived = null; }")
    handle = page.wait_for_function(
        """([pids, frames, energy]) => {
            window.gvDebug.received().then((r) => { window.gvLastReceived = r; });
            const r = window.gvLastReceived || {};
            const ok = pids.every((p) => r[p] && r[p].framesDecoded > frames && r[p].audioEnergy > energy);
            return ok && r;
        }""",
        arg=[pids, frames, energy],
        timeout=WAIT,
        polling=250,
    )
    return handle.json_value()


def received_now(page, pid: str) -> dict:
    """One measure of what this page receives from `pid`: framesDecoded, audioEnergy."""
    return page.evaluate(
        "(pid) => window.gvDebug.received().then((r) => r[pid] ?? { framesDecoded: 0, audioEnergy: 0 })", pid
    )


def video_stopped(page, pid: str, quiet_ms: int = 500) -> dict:
    """Wait until this page has decoded no video frame from `pid` for `quiet_ms` (what was
    on the way has drained); return the figures then."""
    page.evaluate("() => { window.gvQuiet = null; }")
    handle = page.wait_for_function(
        """([pid, quietMs]) => {
            window.gvDebug.received().then((r) => { window.gvQuietLast = r[pid]; });
            const r = window.gvQuietLast;
            if (!r) return false;
            const now = performance.now();
            const q = window.gvQuiet;
            if (!q || q.frames !== r.framesDecoded) {
                window.gvQuiet = { frames: r.framesDecoded, since: now };
                return false;
            }
            return now - q.since >= quietMs && r;
        }""",
        arg=[pid, quiet_ms],
        timeout=WAIT,
        polling=100,
    )
    return handle.json_value()


def assert_media_flows(page, pids: list[str]) -> None:
    """Video frames are decoded and audio energy grows, from each pid, and the tiles show it."""
    first = wait_receiving(page, pids)
    frames = min(first[p]["framesDecoded"] for p in pids)
    energy = min(first[p]["audioEnergy"] for p in pids)
    wait_receiving(page, pids, frames + 10, energy)
    for pid in pids:
        page.wait_for_function(
            "(pid) => document.querySelector(`.gv-tile[data-pid='${pid}'] video`)?.videoWidth > 0",
            arg=pid,
            timeout=WAIT,
        )


def foreign_requests(page, base: str) -> list[str]:
    """Requests of the page that left the portal's origin (data: and blob: stay local)."""
    origin = urlsplit(base)
    out = []
    for url in page.gv_requests:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob"):
            continue
        if parts.hostname != origin.hostname or parts.port != origin.port:
            out.append(url)
    return out


def csp_errors(page) -> list[str]:
    return [e for e in page.gv_errors if "Content Security Policy" in e or "Refused to" in e]


def say(sender, receiver, text: str) -> None:
    """`sender` writes in the chat (opening the panel if needed); `receiver` reads it."""
    if sender.get_attribute("#gv-btn-chat", "aria-expanded") != "true":
        sender.click("#gv-btn-chat")
    sender.fill("#gv-chat-text", text)
    sender.press("#gv-chat-text", "Enter")
    receiver.wait_for_function(
        "(text) => document.getElementById('gv-chat-log').textContent.includes(text)", arg=text, timeout=WAIT
    )
