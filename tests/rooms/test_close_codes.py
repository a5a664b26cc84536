"""The room socket's close codes are named once per side and documented once: the table
in rooms/PROTOCOL.md, the server's `CloseCode` (rooms/protocol.py) and the browser's
`CLOSE`/`FINAL` (rooms/static/rooms/js/codes.js) must say the same numbers."""

from __future__ import annotations

import re
from pathlib import Path

from rooms.protocol import RETRY, CloseCode

ROOMS = Path(__file__).resolve().parents[2] / "rooms"


def documented() -> dict[str, tuple[int, str]]:
    """PROTOCOL.md's close-code table: name → (code, who sends it)."""
    section = (ROOMS / "PROTOCOL.md").read_text().split("## Close codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\d+)` \| `(\w+)` \| (server|browser) \|", section, re.MULTILINE)
    return {name: (int(code), sender) for code, name, sender in rows}


def browser() -> tuple[dict[str, int], set[str]]:
    """codes.js: the CLOSE object (name → code) and the names in the FINAL set."""
    source = (ROOMS / "static/rooms/js/codes.js").read_text()
    block = re.search(r"export const CLOSE = Object\.freeze\(\{(.*?)\}\);", source, re.DOTALL)
    final = re.search(r"export const FINAL = new Set\(\[(.*?)\]\);", source, re.DOTALL)
    assert block and final, "codes.js no longer declares CLOSE and FINAL as this test reads them"
    close = {name: int(code) for name, code in re.findall(r"^\s*(\w+): (\d+),", block.group(1), re.MULTILINE)}
    return close, set(re.findall(r"CLOSE\.(\w+)", final.group(1)))


def test_protocol_md_and_the_browser_name_the_same_codes():
    close, _final = browser()
    table = documented()
    assert table, "PROTOCOL.md has no close-code table"
    assert {name: code for name, (code, _sender) in table.items()} == close


def test_the_server_sends_exactly_the_documented_server_codes():
    server_rows = {name: code for name, (code, sender) in documented().items() if sender == "server"}
    assert server_rows == {code.name: code.value for code in CloseCode}


def test_the_browser_treats_the_server_codes_as_final_except_the_retry_ones():
    _close, final = browser()
    assert final == {code.name for code in CloseCode if code not in RETRY}
    assert RETRY, "BUSY (admission control) is a server code the browser comes back after"
