"""The citizen pages' DSFR (issue 21, item 2): built from DSFR's own per-component files,
unchanged, and holding every `fr-` class the pages use."""

from __future__ import annotations

import re
from pathlib import Path

from portal import dsfr

ROOT = Path(__file__).resolve().parents[2]
# The pages built on templates/base.html, and the modules that run in them.
TEMPLATES = [ROOT / "templates", ROOT / "rooms" / "templates", ROOT / "portal" / "templates" / "portal"]
SCRIPTS = [ROOT / "rooms" / "static" / "rooms" / "js"]
# Back-office pages on Django's admin templates (admin CSS, no DSFR).
NOT_DSFR = {"day.html", "day_row.html", "operations_alert.html"}
# Classes of DSFR's documented markup that its own component files do not style (only the
# search component, unused here, mentions them): no CSS is missing for them.
UNSTYLED_MARKUP = {"fr-header__body", "fr-input--error"}
CLASS = re.compile(r"(?<![\w-])fr-[a-z0-9][a-z0-9_-]*")


def used_classes() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    files = [p for folder in TEMPLATES for p in folder.rglob("*.html") if p.name not in NOT_DSFR]
    files += [p for folder in SCRIPTS for p in folder.rglob("*.js")]
    for path in files:
        for name in CLASS.findall(path.read_text(encoding="utf-8")):
            if name.endswith("-"):  # a prefix completed in code: `fr-alert--${severity}`
                continue
            found.setdefault(name, set()).add(path.relative_to(ROOT).as_posix())
    return found


def shipped_classes() -> set[str]:
    return set(re.findall(r"\.(fr-[a-zA-Z0-9_-]+)", dsfr.BUNDLE.read_text(encoding="utf-8")))


def test_the_bundle_is_dsfrs_own_files_joined():
    assert dsfr.BUNDLE.read_text(encoding="utf-8") == dsfr.bundle(), "run: python manage.py dsfr_bundle"
    note = (dsfr.DSFR / "VERSION").read_text(encoding="utf-8")
    for part in dsfr.parts():
        # Each part is the file DSFR distributes, as recorded when it was vendored.
        assert f"{dsfr.sha256(part)}  {part.relative_to(dsfr.DSFR).as_posix()}" in note, part
        assert part.read_text(encoding="utf-8").startswith("/*!\n * DSFR v1.15.3 |")


def test_every_fr_class_of_the_pages_is_in_the_shipped_css():
    shipped = shipped_classes()
    used = used_classes()
    assert len(used) > 40  # the scan really reads the pages
    missing = {name: sorted(where) for name, where in used.items()
               if name not in shipped and name not in UNSTYLED_MARKUP}
    assert missing == {}
    # Completed in code (prejoin.js, devicetest.js): the alert variants.
    full = (dsfr.DSFR / "dsfr.min.css").read_text(encoding="utf-8")
    for name in UNSTYLED_MARKUP:  # DSFR names them (in the search component), we do not need their CSS
        assert f".{name}" in full and name not in shipped
    assert {"fr-alert--error", "fr-alert--warning", "fr-alert--success", "fr-alert--info"} <= shipped


def test_urls_are_rebased_to_the_bundles_folder_and_exist():
    urls = set(re.findall(r"url\(['\"]?(?!data:)([^)'\"]+)", dsfr.BUNDLE.read_text(encoding="utf-8")))
    assert urls
    for url in urls:
        assert (dsfr.DSFR / url).is_file(), url
