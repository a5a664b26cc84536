"""The citizen pages' style sheet, built from DSFR's own per-component files (issue 21).

DSFR ships each component as its own CSS file (`dist/component/<name>/<name>.main.min.css`,
`dist/core/core.main.min.css`). They are vendored unchanged under `rooms/static/dsfr/`
(their SHA-256 in `rooms/static/dsfr/VERSION`), and `bundle()` joins the ones the pages use
into one file, `rooms/static/dsfr/dsfr.citizen.min.css`: one request instead of fourteen,
one gzip stream. The only change is the one any bundler makes: each `url(...)` is rebased
from its part's folder to the bundle's. `python manage.py dsfr_bundle` writes it; a test
checks the committed file is what this builds, and that every `fr-` class the templates and
scripts use is in it.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from pathlib import Path

DSFR = Path(__file__).resolve().parent.parent / "rooms" / "static" / "dsfr"
BUNDLE = DSFR / "dsfr.citizen.min.css"
# What the citizen pages use: core (reset, typography, grid, spacing, sr-only) and these.
COMPONENTS = ("skiplink", "header", "logo", "footer", "button", "link", "alert", "callout", "badge",
              "form", "input", "select", "checkbox")
URL = re.compile(r"url\((['\"]?)(?!data:|https?:|/|#)([^)'\"]+)\1\)")


def parts() -> list[Path]:
    return [DSFR / "core" / "core.main.min.css",
            *(DSFR / "component" / name / f"{name}.main.min.css" for name in COMPONENTS)]


def rebase(css: str, part: Path) -> str:
    """`url(../../icons/x.svg)` in component/button/ → `url(icons/x.svg)` from the bundle's folder."""
    folder = part.parent.relative_to(DSFR).as_posix()

    def fix(match: re.Match[str]) -> str:
        quote, target = match.group(1), match.group(2)
        rebased = posixpath.normpath(posixpath.join(folder, target))
        if rebased.startswith("../"):
            raise ValueError(f"{part.name}: url({target}) points outside the vendored DSFR")
        return f"url({quote}{rebased}{quote})"

    return URL.sub(fix, css)


def bundle() -> str:
    return "\n".join(rebase(part.read_text(encoding="utf-8"), part) for part in parts()) + "\n"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write() -> Path:
    BUNDLE.write_text(bundle(), encoding="utf-8")
    return BUNDLE
