"""A real portal (Daphne) and Debian's Chromium for browser tests and benchmarks.

Facts this relies on (docs/browser-tests.md): WebRTC on loopback needs
`--allow-loopback-in-peer-connection` in Chromium and the server's aioice offering
127.0.0.1 (GV_TEST_LOOPBACK_ICE=1); `playwright install` is not possible here, so
Playwright drives /usr/bin/chromium; every process is stopped by PID in `finally`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AGENT_PASSWORD = "pw-for-tests"  # tests/factories.py UserFactory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base: str
    process: subprocess.Popen
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def database_url(database: Path | str) -> str:
    """A SQLite file (Path) or a database URL (str), as DATABASE_URL."""
    return f"sqlite:///{database}" if isinstance(database, Path) else database


def server_env(database: Path | str, var_dir: Path, base: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DEBUG": "1",  # Django (WhiteNoise with finders) serves the static files
        "DATABASE_URL": database_url(database),
        "GV_TEST_LOOPBACK_ICE": "1",
        "GV_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SITE_URL": base,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "False",
        "PYTHONUNBUFFERED": "1",
        "IDCHECK_TIMEOUT": "8",  # the default fake camera shows no card: "unreadable" comes after this
    }
    for name in ("DJANGO_ALLOW_ASYNC_UNSAFE", "REDIS_URL"):  # the server runs on its own defaults
        env.pop(name, None)
    return env


@contextlib.contextmanager
def running_server(database: Path | str, var_dir: Path, timeout: float = 30,
                   port: int | None = None, extra_env: dict[str, str] | None = None,
                   host: str = "127.0.0.1") -> Iterator[Server]:
    """Daphne on a free port (or `port`) of `host`, sharing `database` (already migrated) with the caller."""
    port = port or free_port()
    base = f"http://{host}:{port}"
    log = var_dir / f"daphne-{port}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "portal.asgi:application"],
            cwd=ROOT,
            env={**server_env(database, var_dir, base), **(extra_env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(base, process, log)

    def answering() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"Daphne exited with {process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(base + "/jsi18n/", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    try:
        wait_until(answering, timeout, interval=0.2, what=lambda: f"Daphne to answer:\n{server.log_tail()}")
        yield server
    finally:
        stop(process)


@dataclass
class MediaNodes:
    env: dict[str, str]  # what a portal needs to place its rooms on these nodes
    processes: dict[str, subprocess.Popen]  # node id -> process
    prefix: str  # of their Redis keys


@contextlib.contextmanager
def media_nodes_running(var_dir: Path, *node_ids: str, timeout: float = 30) -> Iterator[MediaNodes]:
    """`manage.py medianode` processes on Redis, under a prefix of their own, once all are live."""
    import uuid

    import redis

    from media.nodes.registry import NODES_KEY

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/7")
    prefix = f"gve2e{uuid.uuid4().hex[:8]}"
    remote = {"REDIS_URL": url, "MEDIA_NODES": "remote", "MEDIA_REDIS_PREFIX": prefix + ":",
              "CHANNELS_PREFIX": prefix, "MEDIA_NODE_MAX_AGE": "2.0"}
    env = {**os.environ, **remote, "DJANGO_SETTINGS_MODULE": "tests.settings", "GV_TEST_LOOPBACK_ICE": "1",
           "PYTHONUNBUFFERED": "1"}
    processes: dict[str, subprocess.Popen] = {}
    try:
        for node_id in node_ids:
            with (var_dir / f"{node_id}.log").open("ab") as out:
                processes[node_id] = subprocess.Popen(
                    [sys.executable, "manage.py", "medianode", "--id", node_id], cwd=ROOT, env=env,
                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        client = redis.Redis.from_url(url)

        def all_announced() -> bool:
            if any(p.poll() is not None for p in processes.values()):
                raise RuntimeError(f"a media node exited: see {var_dir}/node-*.log")
            return len(client.hkeys(prefix + ":" + NODES_KEY)) >= len(node_ids)

        wait_until(all_announced, timeout, interval=0.2, what=f"media nodes to start: see {var_dir}/node-*.log")
        yield MediaNodes(remote, processes, prefix + ":")
    finally:
        for process in processes.values():
            stop(process)


def stop(process: subprocess.Popen) -> None:
    """Stop a process we started, by its PID (its own session: children go too)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def launch(playwright, user_data_dir: Path, extra_args: tuple[str, ...] = (), executable: str | Path = CHROMIUM,
           **options):
    """A persistent Chromium context with fake camera and microphone (one browser process);
    `extra_args` e.g. ("--use-file-for-fake-video-capture=card.y4m",) for a chosen picture;
    `executable` e.g. a wrapper running Chromium in a network namespace (tests/e2e/netns.py)."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=str(executable),
        headless=True,
        args=[*CHROMIUM_ARGS, *extra_args],
        **{"locale": "fr-FR", "viewport": {"width": 1000, "height": 760}, **options},
    )


def prepare_database() -> None:
    """Create the tables in the database Django is configured for (caller's settings)."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def make_member(structure, role: str, **fields):
    """A member of `structure` who can sign in to the server with AGENT_PASSWORD (username
    `<role>-<random>`). Needs Django set up."""
    import uuid

    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from tests import factories

    user = factories.member(structure, role, username=f"{role}-{uuid.uuid4().hex[:8]}", **fields)
    # The server hashes with its own settings (no MD5 as in the unit tests): a PBKDF2 hash
    # it can check, with few iterations to stay fast.
    user.password = PBKDF2PasswordHasher().encode(AGENT_PASSWORD, uuid.uuid4().hex, iterations=1000)
    user.save(update_fields=["password"])
    factories.totp_device(user)  # their authenticator app: sign_in types its codes
    return user


def second_factor(page, user, timeout: float = 20_000) -> None:
    """The sign-in's second step: type the code the user's app shows (computed from the
    shared secret, tests/factories.py)."""
    from tests import factories

    page.wait_for_selector("#gv-second-factor", timeout=timeout)
    page.fill("#id_code", factories.next_totp_code(user))
    page.click("#gv-second-factor [type=submit]")


def sign_in(page, base: str, user, next_path: str, timeout: float = 20_000) -> None:
    """The back-office's sign-in, both steps (password, then the app's code), then next_path."""
    page.goto(f"{base}/admin/login/?next={next_path}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", AGENT_PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    second_factor(page, user, timeout)


def make_appointment(start_in_minutes: int = 5):
    """A structure, its agent (username returned) and an open room. Needs Django set up."""
    import datetime as dt

    from django.utils import timezone

    from portal.models import Role
    from tests import factories

    structure = factories.StructureFactory(name="Mairie de Test")
    agent = make_member(structure, Role.AGENT, first_name="Alice", last_name="Agent")
    appointment = factories.appointment(
        structure, agent, start=timezone.now() + dt.timedelta(minutes=start_in_minutes)
    )
    return agent, appointment.room


def bench_environment() -> Path:
    """For a benchmark script: a throw-away folder and SQLite file, Django set up, migrated."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="gv-bench-"))
    os.environ["GV_VAR_DIR"] = str(folder)
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls next to sync Playwright
    import django

    django.setup()
    prepare_database()
    return folder


def enter_as_agent(page, base: str, agent, room, timeout: float = 20_000) -> None:
    """Sign in through the back-office form and open the room (redirected to the call)."""
    sign_in(page, base, agent, f"/r/{room.slug}/agent/", timeout)
    page.wait_for_url(f"**/r/{room.slug}/room/", timeout=timeout)
    page.wait_for_selector("#gv-call:not([hidden])", timeout=timeout)
