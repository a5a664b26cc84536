"""The light structure of the notes' plain text, read line by line: `# ` a heading, `- ` or
`* ` a list item, `- [ ] ` / `- [x] ` a box to tick, anything else a paragraph line. The
summary page renders these blocks with autoescaping and the PDF writes them as text: no
markup typed by anyone reaches a page."""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOX = re.compile(r"^\s*[-*]\s*\[( |x|X)\]\s?(.*)$")
_ITEM = re.compile(r"^\s*[-*•]\s+(.*)$")
_HEADING = re.compile(r"^\s*#{1,3}\s+(.*)$")


@dataclass(frozen=True)
class Block:
    kind: str  # "heading", "item", "box", "line", "blank"
    text: str
    checked: bool = False


def blocks(text: str) -> list[Block]:
    out: list[Block] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if box := _BOX.match(line):
            out.append(Block("box", box.group(2).strip(), checked=box.group(1) in "xX"))
        elif item := _ITEM.match(line):
            out.append(Block("item", item.group(1).strip()))
        elif heading := _HEADING.match(line):
            out.append(Block("heading", heading.group(1).strip()))
        elif line.strip():
            out.append(Block("line", line.rstrip()))
        elif out and out[-1].kind != "blank":
            out.append(Block("blank", ""))
    while out and out[-1].kind == "blank":
        out.pop()
    return out
