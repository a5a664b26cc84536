"""Static files collected once per test session, as a deployment collects them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.production.server import collectstatic


@dataclass
class Collected:
    var_dir: Path
    static_root: Path
    output: str


@pytest.fixture(scope="session")
def collected(tmp_path_factory) -> Collected:
    """`manage.py collectstatic` with the production storage (manifest, compressed) and DEBUG=0."""
    folder = tmp_path_factory.mktemp("production")
    static_root, var_dir = folder / "static", folder / "var"
    result = collectstatic(var_dir, static_root)
    # A reference to a missing file (url() in a CSS file, a template's {% static %}) is a
    # MissingFileError here, and then a 500 on every page: fail on it.
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return Collected(var_dir, static_root, result.stdout)
