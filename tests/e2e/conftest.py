"""Browser test fixtures: one Daphne for the package, one Chromium per participant.

The test process and the server share a temporary SQLite file: the tests create the
structure, agent and appointment with tests/factories.py; the server sees them at once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connections

from tests.e2e import harness

WAIT = 20_000  # ms: cap of every wait on a page
DEBUG_STATE = """async () => window.gvDebug && JSON.stringify({
    out: window.gvDebug.pc && [...(await window.gvDebug.pc.getStats()).values()]
        .filter((s) => s.type === "outbound-rtp" || s.type === "inbound-rtp")
        .map((s) => [s.type, s.kind, s.mid, s.packetsSent ?? s.packetsReceived, s.framesEncoded ?? s.framesDecoded,
                     s.pliCount, s.keyFramesEncoded ?? s.keyFramesDecoded]),
    me: window.gvDebug.me.pid, status: window.gvDebug.me.status, pc: window.gvDebug.pc?.connectionState,
    signaling: window.gvDebug.pc?.signalingState, tracks: window.gvDebug.tracks,
    mids: window.gvDebug.pc?.getTransceivers().map((t) => [t.mid, t.currentDirection]),
    received: window.gvLastReceived, people: window.gvDebug.people().map((p) => p.pid)})"""


@pytest.fixture(scope="package", autouse=True)
def _orm_next_to_playwright() -> Iterator[None]:
    """Sync Playwright keeps an event loop in this thread; the ORM calls of these tests are
    still plain synchronous calls. Allowed for this package only, then restored."""
    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if saved is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


@pytest.fixture(scope="package")
def e2e_db(tmp_path_factory, django_db_blocker) -> Iterator[Path | str]:
    """Point this process's default database at a fresh database of its own, migrated:
    a SQLite file on SQLite, a new database on the same PostgreSQL server otherwise. The
    portal under test (another process) is given the same database."""
    connection = connections["default"]
    settings_dict = connection.settings_dict
    saved = {**settings_dict, "OPTIONS": dict(settings_dict.get("OPTIONS", {}))}
    with django_db_blocker.unblock():
        connection.close()
        _close_pool(connection)  # a pool keeps connecting to the database it was made for
        if connection.vendor == "sqlite":
            database: Path | str = tmp_path_factory.mktemp("e2e") / "e2e.sqlite3"
            settings_dict.update(NAME=str(database))
        else:
            name = f"gv_e2e_{os.getpid()}"
            _postgres_admin(saved, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
            settings_dict.update(NAME=name)
            database = (f"postgres://{saved['USER']}@{saved['HOST'] or '127.0.0.1'}:"
                        f"{saved['PORT'] or 5432}/{name}")
        try:
            harness.prepare_database()
            yield database
        finally:
            connection.close()
            _close_pool(connection)
            settings_dict.clear()
            settings_dict.update(saved)
            if connection.vendor != "sqlite":
                _postgres_admin(saved, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _close_pool(connection) -> None:
    """PostgreSQL's connections are pooled (settings: DATABASES OPTIONS pool)."""
    if connection.vendor == "postgresql":
        connection.close_pool()


def _postgres_admin(settings_dict: dict, *statements: str) -> None:
    import psycopg

    with psycopg.connect(host=settings_dict["HOST"] or "127.0.0.1", port=settings_dict["PORT"] or 5432,
                         user=settings_dict["USER"], dbname="postgres", autocommit=True) as admin:
        for statement in statements:
            admin.execute(statement)


IN_PROCESS, TWO_NODES = "inprocess", "two-nodes"
# The session's browser tests run on both (issue 5): `pytestmark = ON_BOTH_MEDIA_SETUPS`.
ON_BOTH_MEDIA_SETUPS = pytest.mark.parametrize(
    "server", [IN_PROCESS, pytest.param(TWO_NODES, marks=pytest.mark.services)], indirect=True
)


@pytest.fixture(scope="package")
def server(request, e2e_db: Path | str, tmp_path_factory) -> Iterator[harness.Server]:
    """The portal: media in its own process (default), or on two `medianode` processes
    placed through Redis (MEDIA_NODES=remote) when a test asks for TWO_NODES."""
    folder = tmp_path_factory.mktemp("e2e-server")
    if getattr(request, "param", IN_PROCESS) == IN_PROCESS:
        with harness.running_server(e2e_db, folder) as live:
            yield live
        return
    with harness.media_nodes_running(folder, "node-a", "node-b") as nodes, \
            harness.running_server(e2e_db, folder, extra_env=nodes.env) as live:
        yield live


@pytest.fixture
def booked(e2e_db, django_db_blocker):
    """(agent user, room) of an appointment starting in 5 minutes: the link is open."""
    with django_db_blocker.unblock():
        return harness.make_appointment()


@pytest.fixture(scope="package")
def playwright_driver():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@dataclass
class Browsers:
    driver: object
    folder: Path
    contexts: list = field(default_factory=list)

    def open(self, name: str, **options):
        """A new Chromium (own profile, fake devices) and its first page."""
        context = harness.launch(self.driver, self.folder / name, **options)
        self.contexts.append(context)
        context.set_default_timeout(WAIT)
        page = context.pages[0] if context.pages else context.new_page()
        watch(page)
        return page


def watch(page) -> None:
    """Keep what a page reports: console errors (CSP refusals among them) and requests."""
    page.gv_errors = []
    page.gv_requests = []
    page.on("console", lambda m: m.type == "error" and page.gv_errors.append(m.text))
    page.on("pageerror", lambda e: page.gv_errors.append(f"pageerror: {e}"))
    page.on("request", lambda r: page.gv_requests.append(r.url))
    page.on("websocket", lambda ws: page.gv_requests.append(ws.url))


@pytest.fixture
def browsers(playwright_driver, tmp_path, server) -> Iterator[Browsers]:
    pool = Browsers(playwright_driver, tmp_path)
    try:
        yield pool
    finally:
        # Shown by pytest when the test failed: where each page was and what it said.
        for context in pool.contexts:
            for page in context.pages:
                print(f"page {page.url}\n  errors: {page.gv_errors[-10:]}")
                try:
                    print("  state:", page.evaluate(DEBUG_STATE))
                except Exception as error:  # noqa: BLE001 - diagnostics only
                    print("  state: unavailable", error)
        print("server log:\n" + server.log_tail())
        for own in sorted(tmp_path.glob("daphne-*.log")):  # servers the test started itself
            print(f"{own.name}:\n" + "\n".join(own.read_text(errors="replace").splitlines()[-80:]))
        for context in pool.contexts:
            # A crashed browser must not hide the test's own error.
            with contextlib.suppress(Exception):
                context.close()


def login_agent(page, base: str, user, next_path: str) -> None:
    """Sign in through the back-office's form, both steps (password, then the code of the
    user's authenticator app), which then goes to next_path."""
    harness.sign_in(page, base, user, next_path)
