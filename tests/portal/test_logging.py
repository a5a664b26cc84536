"""The logging configuration: each line printed once; the ICE/WebRTC libraries' chatter off."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "SECRET_KEY": "x" * 20 + "production-like-secret-key-with-enough-entropy-4f9a",
    "ROOM_PASSWORD_KEY": "u0mUjvmlXfIHOtFnYmm6pWPOC84qRJ4UTnJWhMNQh3k=",
    "ALLOWED_HOSTS": "visio.mairie.example.fr",
}
LOG = """
import logging
logging.getLogger("django.request").warning("django-line")
logging.getLogger("rooms.consumers").info("rooms-line")
logging.getLogger("aioice.ice").info("aioice-info-line")
logging.getLogger("aiortc.rtcpeerconnection").info("aiortc-info-line")
logging.getLogger("aioice.ice").warning("aioice-warning-line")
"""


@pytest.mark.parametrize("debug", [{"DEBUG": "1"}, {"DEBUG": "0", **PRODUCTION}], ids=["debug", "production"])
def test_each_line_once_and_no_ice_chatter(debug, tmp_path):
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env = {**base, **debug, "DJANGO_SETTINGS_MODULE": "portal.settings", "GV_VAR_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", LOG], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert out.count("django-line") == 1 and out.count("rooms-line") == 1, out
    assert "aioice-info-line" not in out and "aiortc-info-line" not in out
    assert out.count("aioice-warning-line") == 1
