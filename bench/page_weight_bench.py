"""Weight of the citizen's pages: the JS and CSS the join page and the room page load.

A real portal (Daphne, DEBUG static files) and headless Chromium; every script and style
sheet the two pages request is fetched again and measured raw and gzip-compressed (level
9, as WhiteNoise pre-compresses). Fonts and images are left out. Baseline: the DSFR style
sheet alone (dsfr.min.css, which the pages loaded before issue 21), compressed. Target: ≤ 75 KB
compressed for the whole citizen journey (issue 21; it was 150).
"""

from __future__ import annotations

import gzip
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e import harness  # noqa: E402

TARGET_KB = 75
# What opening the shared notes panel loads (issue 17): its bundle (notes.js and notestext.js,
# named by its content by bundle.mjs), the vendored Yjs and its style sheet.
DIST = Path(__file__).resolve().parents[1] / "rooms/static/rooms/dist"
NOTES_FILES = (*(f"rooms/dist/{p.name}" for p in DIST.glob("notes-*.js")), "rooms/vendor/yjs/yjs.min.js",
               "rooms/css/notes.css")


def journey_urls(*lists: list[str]) -> list[str]:
    return sorted({url for urls in lists for url in urls})


def is_code(url: str, kind: str) -> bool:
    path = urlsplit(url).path
    return kind in ("script", "stylesheet") or path.endswith((".js", ".css")) or path.startswith("/jsi18n/")


def measure(urls: list[str]) -> dict[str, tuple[int, int]]:
    sizes = {}
    for url in urls:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - our server's http URLs
            body = answer.read()
        sizes[url] = (len(body), len(gzip.compress(body, compresslevel=9)))
    return sizes


def main() -> None:
    folder = harness.bench_environment()
    from playwright.sync_api import sync_playwright

    _agent, room = harness.make_appointment()
    with harness.running_server(folder / "bench.sqlite3", folder) as server, sync_playwright() as driver:
        context = harness.launch(driver, folder / "citizen")
        try:
            page = context.pages[0] if context.pages else context.new_page()
            seen: list[tuple[str, str]] = []
            page.on("request", lambda r: seen.append((r.url, r.resource_type)))
            page.goto(f"{server.base}/r/{room.slug}/", wait_until="load")
            page.evaluate("() => document.getElementById('gv-allow').click()")
            page.wait_for_function("() => document.getElementById('gv-preview').videoWidth > 0", timeout=20_000)
            join = [u for u, k in seen if is_code(u, k)]
            seen.clear()
            page.fill("#id_name", "Jeanne Dupont")
            page.fill("#id_password", room.password)
            page.click("#gv-join")
            page.wait_for_selector("#gv-lobby:not([hidden])", timeout=20_000)
            page.wait_for_load_state("networkidle")
            room_page = [u for u, k in seen if is_code(u, k)]
        finally:
            context.close()

        join, room_page = list(dict.fromkeys(join)), list(dict.fromkeys(room_page))
        sizes = measure(sorted(set(join) | set(room_page)))
        notes = [f"{server.base}/static/{path}" for path in NOTES_FILES]
        sizes.update(measure(notes))
        baseline = sizes.get(f"{server.base}/static/dsfr/dsfr.min.css") or measure(
            [f"{server.base}/static/dsfr/dsfr.min.css"]
        )[f"{server.base}/static/dsfr/dsfr.min.css"]

    # The shared notes load only when their panel opens (rooms/static/rooms/js/notes.js): none
    # of their files may be in the journey; their weight is what opening them adds.
    early = [u for u in journey_urls(join, room_page) if any(part in u for part in NOTES_FILES)]
    if early:
        print(f"notes files loaded before the panel opened: {early}")
        sys.exit(1)

    def total(urls: list[str]) -> tuple[int, int]:
        return sum(sizes[u][0] for u in urls), sum(sizes[u][1] for u in urls)

    print(f"{'file':58} {'raw KB':>8} {'gzip KB':>8}")
    for url, (raw, packed) in sorted(sizes.items(), key=lambda item: -item[1][1]):
        print(f"{urlsplit(url).path:58} {raw / 1024:8.1f} {packed / 1024:8.1f}")
    journey = sorted(set(join) | set(room_page))
    for label, urls in (("join page", join), ("room page", room_page), ("citizen journey (each file once)", journey)):
        raw, packed = total(urls)
        print(f"{label:40} raw {raw / 1024:7.1f} KB   gzip {packed / 1024:6.1f} KB")
    notes_raw, notes_packed = total(notes)
    print(f"{'shared notes, when opened (not in the journey)':40} raw {notes_raw / 1024:7.1f} KB   "
          f"gzip {notes_packed / 1024:6.1f} KB")
    raw, packed = total(journey)
    own_raw, own_packed = raw - baseline[0], packed - baseline[1]
    print(f"baseline: dsfr.min.css alone{'':12} raw {baseline[0] / 1024:7.1f} KB   gzip {baseline[1] / 1024:6.1f} KB")
    print(f"everything else (our JS/CSS, catalog)   raw {own_raw / 1024:7.1f} KB   gzip {own_packed / 1024:6.1f} KB")
    print(f"ratio journey / DSFR CSS alone (gzip): {packed / baseline[1]:.2f}x")
    verdict = "OK" if packed <= TARGET_KB * 1024 else "OVER"
    print(f"target ≤ {TARGET_KB} KB compressed: {packed / 1024:.1f} KB {verdict}")
    if verdict != "OK":
        sys.exit(1)


if __name__ == "__main__":
    main()
