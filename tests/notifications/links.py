"""Reading the short links (/j/<code>) that SMS carry."""

from __future__ import annotations

import re

from notifications import shortlinks

SHORT = re.compile(r"https?://\S+/j/([A-Za-z0-9]{10})(?![A-Za-z0-9])")


def long_link(text: str) -> str:
    """The long link behind the only short link in `text` (the test fails if there is none)."""
    (code,) = SHORT.findall(text)
    target = shortlinks.target_of(code)
    assert target, f"short link {code} resolves to nothing"
    return target
