"""Start-up checks of the production settings, run as a deployment runs them."""

from __future__ import annotations

import pytest

from tests.portal.test_demo_and_settings import PRODUCTION, run_manage


@pytest.mark.parametrize("key", [
    "not-a-fernet-key",
    "u0mUjvmlXfIHOtFnYmm6pWPOC84qRJ4UTnJWhMNQh3k",  # one character short of 32 bytes
    "dG9vIHNob3J0",  # valid base64, 9 bytes
])
def test_a_malformed_room_password_key_fails_check_deploy(key):
    result = run_manage("check", "--deploy", env={**PRODUCTION, "ROOM_PASSWORD_KEY": key})
    assert result.returncode != 0
    assert "ROOM_PASSWORD_KEY is not a valid Fernet key" in result.stderr, result.stderr[-2000:]
    # (the same command passes with a valid key: tests/portal/test_demo_and_settings.py)

