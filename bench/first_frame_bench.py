"""The citizen's first minute, measured by the pages themselves (issue 21, item 3).

A real portal (Daphne, aiortc passthrough engine on loopback) and headless Chromium with
fake devices, a fresh browser profile per run (cold cache). Every figure is read from the
pages' own clocks (Performance API: navigation timing and the product's `performance.mark`s,
`gv-lobby:shown`, `gv:ws-open`, `gv:media-ready`, `gv:admit-sent`, `gv-call:shown`,
`gv:offer`, `gv:pc-connected`, `gv:first-remote-frame`), from each page's `timeOrigin`; pages
and browsers share this machine's clock, so marks of two pages (the agent's admission, the
citizen's first frame) are compared as `timeOrigin + mark`. What the robot takes to click and
type is left out: a page's time runs from its navigation to what it shows.

  (a) personal link opened → waiting room shown: join page (link) until interactive
      (DOMContentLoaded) + room page from its navigation (the "Entrer" POST) to the
      waiting room shown;
  (b) admission sent (the agent's click) → first remote frame at the citizen;
  (c) code path → waiting room: the same as (a) through the join form with the code.

Median and spread over RUNS runs, each phase printed. Baseline measured in the same run:
the room page's own DOMContentLoaded (the page alone, no media, no socket).
Targets (issue 21): (a) ≤ 1.2 s, (b) ≤ 300 ms.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e import harness  # noqa: E402

RUNS = 5
CAP_MS = 15_000
TARGET_A_MS, TARGET_B_MS = 1200, 300
CLOCK = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  return {origin: performance.timeOrigin,
          server: nav.responseStart - nav.requestStart, dcl: nav.domContentLoadedEventEnd,
          redirect: nav.redirectEnd - nav.redirectStart,
          marks: Object.fromEntries(performance.getEntriesByType("mark").map((m) => [m.name, m.startTime]))};
}"""
MARK = "(name) => performance.getEntriesByName(name).length > 0"


def pid_of(page) -> str:
    return page.evaluate("JSON.parse(document.getElementById('gv-config').textContent).pid")


def to_lobby(driver, server, folder: Path, name: str, url: str, room, with_code: bool):
    """A fresh browser opens `url` and enters the waiting room: (page, context, phases in ms)."""

    context = harness.launch(driver, folder / name)
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    join = page.evaluate(CLOCK)
    with page.expect_navigation(url=f"**/r/{room.slug}/room/", wait_until="domcontentloaded", timeout=CAP_MS):
        if with_code:
            page.fill("#id_name", "Jeanne Dupont")
            page.fill("#id_password", room.password)
            page.click("#gv-join")
        else:
            page.click("#gv-enter")
    page.wait_for_function(MARK, arg="gv-lobby:shown", timeout=CAP_MS)
    page.wait_for_function(MARK, arg="gv:media-ready", timeout=CAP_MS)
    lobby = page.evaluate(CLOCK)
    marks = lobby["marks"]
    phases = {
        "join page: server (request → first byte)": join["server"],
        "join page: interactive (DOMContentLoaded)": join["dcl"],
        "room page: server (POST, redirect, first byte)": lobby["server"] + lobby["redirect"],
        "room page: DOMContentLoaded (baseline)": lobby["dcl"],
        "room page: WebSocket open": marks.get("gv:ws-open"),
        "room page: camera and microphone ready": marks.get("gv:media-ready"),
        "room page: waiting room shown": marks["gv-lobby:shown"],
        "TOTAL": join["dcl"] + marks["gv-lobby:shown"],
    }
    return page, context, phases


def one_run(driver, server, folder: Path, n: int) -> dict[str, dict[str, float | None]]:
    from rooms import tokens

    agent, room = harness.make_appointment()
    agent_context = harness.launch(driver, folder / f"agent{n}")
    contexts = [agent_context]
    try:
        agent_page = agent_context.pages[0] if agent_context.pages else agent_context.new_page()
        harness.enter_as_agent(agent_page, server.base, agent, room)
        citizen, context, personal = to_lobby(driver, server, folder, f"citizen{n}",
                                              f"{server.base}/r/{room.slug}/?t={tokens.make(room)}", room, False)
        contexts.append(context)
        citizen_pid = pid_of(citizen)

        agent_page.wait_for_selector("#gv-waiting:not([hidden])", timeout=CAP_MS)
        agent_page.click("#gv-btn-people")
        agent_page.click(f"#gv-lobby-list li[data-pid='{citizen_pid}'] [data-act='lobby.admit']")
        citizen.wait_for_function(MARK, arg="gv:first-remote-frame", timeout=CAP_MS)
        agent = agent_page.evaluate(CLOCK)
        seen = citizen.evaluate(CLOCK)
        admit_at = agent["origin"] + agent["marks"]["gv:admit-sent"]

        def after_admission(mark: str) -> float | None:
            at = seen["marks"].get(mark)
            return None if at is None else seen["origin"] + at - admit_at

        admission = {
            "call shown at the citizen": after_admission("gv-call:shown"),
            "offer made": after_admission("gv:offer"),
            "peer connection connected": after_admission("gv:pc-connected"),
            "TOTAL": after_admission("gv:first-remote-frame"),
        }

        _agent2, room2 = harness.make_appointment()
        _page, context2, code = to_lobby(driver, server, folder, f"coded{n}", f"{server.base}/r/{room2.slug}/",
                                         room2, True)
        contexts.append(context2)
        return {"(a) personal link → waiting room": personal, "(b) admission sent → first remote frame": admission,
                "(c) code path → waiting room": code}
    finally:
        for context in contexts:
            context.close()


def main() -> None:
    folder = harness.bench_environment()
    from playwright.sync_api import sync_playwright

    with harness.running_server(folder / "bench.sqlite3", folder) as server, sync_playwright() as driver:
        runs = [one_run(driver, server, folder, n) for n in range(RUNS)]

    print(f"{RUNS} runs, cold cache, headless Chromium on loopback; ms from each page's own clock")
    totals = {}
    for path in runs[0]:
        print(path)
        for phase in runs[0][path]:
            values = [r[path][phase] for r in runs if r[path][phase] is not None]
            if not values:
                print(f"  {phase:50} (no mark)")
                continue
            median = statistics.median(values)
            print(f"  {phase:50} median {median:7.0f}   spread {min(values):6.0f}–{max(values):6.0f}")
            if phase == "TOTAL":
                totals[path] = median
    baseline = statistics.median(r["(a) personal link → waiting room"]["room page: DOMContentLoaded (baseline)"]
                                 for r in runs)
    a, b = totals["(a) personal link → waiting room"], totals["(b) admission sent → first remote frame"]
    print(f"ratio (a) / room page DOMContentLoaded: {a / baseline:.1f}x")
    for label, value, target in (("(a)", a, TARGET_A_MS), ("(b)", b, TARGET_B_MS)):
        print(f"target {label} ≤ {target} ms: {value:.0f} ms {'OK' if value <= target else 'OVER'}")


if __name__ == "__main__":
    main()
