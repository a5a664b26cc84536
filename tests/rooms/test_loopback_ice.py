"""`./dev run` on a machine whose only network is loopback: in DEBUG the engine offers
127.0.0.1 (aioice skips it), without the tests' GV_TEST_LOOPBACK_ICE switch.

Run in a network namespace holding only `lo` (`unshare -rn`: works as root or not)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GATHER = """
import asyncio, django
django.setup()
import aioice
from rooms.mediabridge import new_engine

async def main():
    new_engine()
    connection = aioice.Connection(ice_controlling=True, components=1)
    await connection.gather_candidates()
    print(sorted(c.host for c in connection.local_candidates if c.type == "host"))

asyncio.run(main())
"""
PRODUCTION = {
    "SECRET_KEY": "x" * 20 + "production-like-secret-key-with-enough-entropy-4f9a",
    "ROOM_PASSWORD_KEY": "u0mUjvmlXfIHOtFnYmm6pWPOC84qRJ4UTnJWhMNQh3k=",
}


@pytest.mark.parametrize(("settings", "offered"), [({"DEBUG": "1"}, "['127.0.0.1']"),
                                                   ({"DEBUG": "0", **PRODUCTION}, "[]")], ids=["debug", "production"])
def test_engine_offers_loopback_in_debug_when_there_is_no_other_address(settings, offered, tmp_path):
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env = {**base, **settings, "DJANGO_SETTINGS_MODULE": "portal.settings", "GV_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", sys.executable, "-c", GATHER],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == offered, result.stdout + result.stderr
