"""`./dev run` as a newcomer uses it: its own address in every link, readable emails, each
log line once, and nothing left running after SIGTERM to its process group."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.e2e.harness import free_port  # one free-port helper for every test server
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    wait_until(condition, timeout, interval=0.2, what=what)


def processes_with(marker: str) -> list[str]:
    """Command lines of the live processes whose environment holds `marker`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker.encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # gone meanwhile, or a zombie
            continue
    return found


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_dev_run_uses_its_address_and_stops_everything_on_sigterm(tmp_path):
    port = free_port()
    marker = f"GV_VAR_DIR={tmp_path}"
    # What a newcomer's shell has: no settings module, no DATABASE_URL/REDIS_URL (embedded default).
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env |= {"ADDRESS": f"127.0.0.1:{port}", "GV_VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "dev-run.log"
    with log.open("wb") as out:
        dev = subprocess.Popen(["./dev", "run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: answers(f"{base}/jsi18n/") or dev.poll() is not None, 120, "the portal to answer")
        assert dev.poll() is None, log.read_text()
        wait_for(lambda: any("celery" in cmd for cmd in processes_with(marker)), 30, "the Celery worker")

        output = log.read_text()
        link = re.search(r"^Citizen link: (\S+)$", output, re.M)
        assert link and link.group(1).startswith(f"{base}/r/"), output  # SITE_URL from ADDRESS
        assert answers(link.group(1))
        # The confirmation, sent by the worker to the console, is readable: the device-test link
        # the demo printed appears verbatim in it (not quoted-printable).
        test_link = re.search(r"^Citizen's device test, and cancel or move: (\S+) ", output, re.M).group(1)
        wait_for(lambda: "To: citoyen@example.org" in log.read_text(), 60, "the confirmation email")
        email = log.read_text().split("To: citoyen@example.org", 1)[1]
        assert f" {test_link}\n" in email and "=3D" not in email and "=\n" not in email

        # A path of its own (query strings are logged as `?*`, portal/logprivacy.py).
        probe = f"/jsi18n/probe-{port}/"
        assert urllib.request.urlopen(base + "/jsi18n/", timeout=5).status == 200
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(base + probe, timeout=5)
        request_line = re.compile(f"HTTP GET {re.escape(probe)} 404")  # Channels' runserver line
        wait_for(lambda: request_line.search(log.read_text()), 10, "the request's log line")
        assert len(request_line.findall(log.read_text())) == 1  # each log line once
    finally:
        os.killpg(dev.pid, signal.SIGTERM)
        dev.wait(timeout=30)
    assert processes_with(marker) == []  # neither the worker, its beat, nor runserver's child
