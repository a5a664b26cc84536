"""The portal as a structure deploys it: production settings, collected static files, Daphne.

No test settings here: `portal.settings` with DEBUG=0, the manifest static storage and
WhiteNoise, as in production. The only test-specific values are the secrets, the database
and the loopback address. Requests say they came through an HTTPS proxy
(`X-Forwarded-Proto: https` with BEHIND_PROXY=1), so the SSL redirect, secure cookies and
HSTS stay on.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

from tests.e2e.harness import free_port, stop

ROOT = Path(__file__).resolve().parents[2]


def production_env(var_dir: Path, static_root: Path, **extra: str) -> dict[str, str]:
    """A clean environment: only what a deployment sets, nothing from the test settings."""
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return {
        **base,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "0",
        # The test process's secrets: tokens it signs and room codes it encrypts must match.
        "SECRET_KEY": os.environ["SECRET_KEY"],
        "ROOM_PASSWORD_KEY": os.environ["ROOM_PASSWORD_KEY"],
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": "https://127.0.0.1",
        "BEHIND_PROXY": "1",
        "STATIC_ROOT": str(static_root),
        "GV_VAR_DIR": str(var_dir),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def collectstatic(var_dir: Path, static_root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT, env=production_env(var_dir, static_root), capture_output=True, text=True, timeout=300,
    )


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name, "")

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


@dataclass
class Browser:
    """Plain HTTP/1.1 to the server, as if through the HTTPS proxy; keeps cookies (even Secure)."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                timeout: float = 30) -> Answer:
        origin = f"https://127.0.0.1:{self.port}"
        sent = {"Host": f"127.0.0.1:{self.port}", "X-Forwarded-Proto": "https", "Referer": origin + "/",
                "Accept-Language": "fr"}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        sent.update(headers or {})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            answer = Answer(response.status, response.headers, response.read())
        finally:
            connection.close()
        for value in answer.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return answer

    def get(self, path: str, **headers: str) -> Answer:
        return self.request("GET", path, headers=headers)

    def post_form(self, path: str, data: dict[str, str]) -> Answer:
        from urllib.parse import urlencode

        return self.request("POST", path, body=urlencode(data).encode(),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})


@dataclass
class Server:
    port: int
    process: subprocess.Popen
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def browser(self) -> Browser:
        return Browser(self.port)


@contextlib.contextmanager
def daphne(env: dict[str, str], log: Path, timeout: float = 40) -> Iterator[Server]:
    """`daphne portal.asgi:application` on a free port, once it answers /healthz."""
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "portal.asgi:application"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = Server(port, process, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"Daphne exited with {process.returncode}:\n{server.log_tail()}")
            with contextlib.suppress(OSError):
                if server.browser().get("/healthz", timeout=2).status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"Daphne did not answer within {timeout} s:\n{server.log_tail()}")
            time.sleep(0.2)
        yield server
    finally:
        stop(process)
