"""The apps import each other in the design's directions (contracts in pyproject.toml).

portal → rooms/notifications; rooms → media and portal's models; notifications → portal's
models; media → nothing of Django. import-linter checks the contracts; the broken cases
run the same contracts on a copy of the tree with one forbidden import added, so a
contract that checked nothing would fail here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("portal", "rooms", "notifications", "media")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run `lint-imports` with the project's contracts on the packages found in `tree`."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--config", str(ROOT / "pyproject.toml"),
         "--no-cache"],
        cwd=tree, env=env, capture_output=True, text=True, timeout=120,
    )


def test_the_project_keeps_its_import_directions() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden_import", "contract"),
    [
        # The cycle this test was written after: the rooms' routing serving the portal's day view.
        ("rooms/routing.py", "from portal.consumers import DayConsumer",
         "rooms uses portal's models and leaf helpers only, never notifications BROKEN"),
        ("portal/devicetest.py", "from media.engine import MediaEngine",
         "portal reaches media through the rooms' media bridge only BROKEN"),
        ("media/engine/modes.py", "from django.conf import settings",
         "media is plain asyncio + aiortc: nothing of Django, nothing of the apps BROKEN"),
        ("notifications/messages.py", "from rooms import journey",
         "notifications uses portal, never rooms or media BROKEN"),
        ("portal/phones.py", "from rooms import lobby",
         "portal's models and leaf helpers depend on no app above them"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path: Path, module: str, forbidden_import: str,
                                              contract: str) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("static", "templates", "locale", "__pycache__"))
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{forbidden_import}  # added by the test\n")

    result = lint_imports(tmp_path)

    assert result.returncode != 0
    assert contract in " ".join(result.stdout.split()), result.stdout
    assert "1 broken" in result.stdout
