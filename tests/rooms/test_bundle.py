"""The committed bundles (rooms/static/rooms/dist) are built from the current sources.

`npm run build` (bundle.mjs) writes them with rooms/bundle-inputs.json: the SHA-256 of every
file esbuild read (our modules, Yjs, the build script and the lockfile) and of every file it
wrote. A source edited without rebuilding, a module added to the graph (its importer
changed), a bundle edited by hand or a chunk left behind all fail here, without Node; the
byte-for-byte rebuild is tests/js/bundle.test.js (`npm test`).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = json.loads((ROOT / "rooms/bundle-inputs.json").read_text())
DIST = ROOT / "rooms/static/rooms/dist"
REBUILD = "stale bundle: run `npm run build` and commit rooms/static/rooms/dist and rooms/bundle-inputs.json"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_source_of_the_bundles_is_unchanged_since_the_build():
    changed = [name for name, sha in MANIFEST["inputs"].items()
               if not (ROOT / name).is_file() or digest(ROOT / name) != sha]
    assert changed == [], f"{REBUILD}; changed since: {changed}"


def test_the_bundles_read_every_module_the_pages_load():
    # Each page's entry and everything it imports went through esbuild (none left to the browser).
    sources = {name for name in MANIFEST["inputs"] if name.startswith("rooms/static/rooms/js/")}
    for entry in ("room", "prejoin", "notes", "idcheck"):
        assert f"rooms/static/rooms/js/{entry}.js" in sources
    for name in sources:
        for imported in re.findall(r"""^import\b[^;]*?from\s*["'](\.[^"']+)["']""",
                                   (ROOT / name).read_text(), re.M):
            target = (ROOT / name).parent.joinpath(imported).resolve().relative_to(ROOT).as_posix()
            if target.startswith("rooms/static/rooms/vendor/"):  # kept a file of its own (Yjs)
                assert (ROOT / target).is_file()
                continue
            assert target in MANIFEST["inputs"], f"{name} imports {target}, absent from the build: {REBUILD}"


def test_the_dist_folder_holds_exactly_what_the_build_wrote():
    on_disk = {p.relative_to(ROOT).as_posix(): digest(p) for p in DIST.iterdir()}
    assert on_disk == MANIFEST["outputs"], REBUILD


def test_the_page_bundles_import_nothing_at_load_and_name_their_lazy_parts():
    for page in ("room.js", "prejoin.js"):
        code = (DIST / page).read_text()
        assert not re.search(r"""(?:^|[;}])\s*(?:import|export)\s*[{*"'\w][^;]*?from\s*["']""", code), page
    lazy = set(re.findall(r"""import\(["']\./([\w-]+\.js)["']\)""", (DIST / "room.js").read_text()))
    assert {name.split("-")[0] for name in lazy} == {"notes", "idcheck"}
    assert all((DIST / name).is_file() for name in lazy)
    # The notes import the vendored Yjs where it is (dist/ and js/ are siblings).
    notes = next(DIST.glob("notes-*.js")).read_text()
    assert '"../vendor/yjs/yjs.min.js"' in notes
