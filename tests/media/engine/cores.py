"""The packet cores the per-packet tests run on: the Python reference and the compiled one.

The compiled core is built by ./dev (CI builds it): there, a test of it that cannot run
fails rather than skips; elsewhere (built by hand or not at all) it is skipped.
"""

from __future__ import annotations

import os

import pytest

from media.engine import packet_core

_REQUIRED = bool(os.environ.get("CI"))
CORES = [
    pytest.param(packet_core.PYTHON, id="python"),
    pytest.param(packet_core.COMPILED, id="compiled",
                 marks=() if packet_core.COMPILED is not None or _REQUIRED else
                 pytest.mark.skip(reason="compiled packet core not built (media/engine/packet_core_build.py)")),
]


def compiled_core() -> packet_core.Core:
    """The compiled core for a test comparing it with the reference: failing where it must be
    built (CI), skipped elsewhere, as CORES does."""
    if packet_core.COMPILED is None:
        if _REQUIRED:
            pytest.fail("compiled packet core not built (media/engine/packet_core_build.py)")
        pytest.skip("compiled packet core not built (media/engine/packet_core_build.py)")
    return packet_core.COMPILED
