"""Providers on 127.0.0.1 (SMTP, Twilio's API), settings pointing at them, Celery workers.

Celery tests use a real Redis broker: REDIS_URL, or redis://127.0.0.1:6379/5. They fail
(they do not skip) when Redis is down.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from notifications import backends
from portal.celery import app as celery_app
from tests import factories
from tests.notifications.servers import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio, SmtpServer

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/5"
CALLBACK_URL = "https://visio.example.fr/notifications/twilio/status/"


@pytest.fixture(autouse=True)
def _fresh_backends(settings):
    """Backends are cached per dotted path: each test builds them from its own settings.
    Tasks queued by the code under test run inline unless a test starts a worker."""
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 30
    backends._instance.cache_clear()
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = eager
    backends._instance.cache_clear()


@pytest.fixture
def twilio(settings) -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    try:
        settings.NOTIFICATIONS_SMS_BACKEND = "notifications.backends.twilio_sms.TwilioBackend"
        settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
        settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
        settings.TWILIO_FROM_NUMBER = FROM_NUMBER
        settings.TWILIO_MESSAGING_SERVICE_SID = ""
        settings.TWILIO_API_BASE_URL = fake.url
        settings.TWILIO_STATUS_CALLBACK_URL = CALLBACK_URL
        settings.TWILIO_TIMEOUT_SECONDS = 2
        backends._instance.cache_clear()
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def smtp(settings) -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 3
        settings.NOTIFICATIONS_EMAIL_BACKEND = "notifications.backends.email.EmailBackend"
        yield server
    finally:
        server.stop()


@pytest.fixture
def book(structure_a, alice, django_capture_on_commit_callbacks):
    """Book through the real action (in 2 hours unless told); after-commit receivers run."""

    def book(**fields):
        fields.setdefault("start", timezone.now() + dt.timedelta(hours=2))
        with django_capture_on_commit_callbacks(execute=True):
            return factories.appointment(structure_a, alice, **fields)

    return book


@pytest.fixture
def providers(twilio, smtp):
    return twilio, smtp


def database_url() -> str:
    """The test database, as a URL for a worker process."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def redis_broker():
    """The test process queues its tasks to Redis (as production does), not inline."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.broker_transport_options, conf.task_always_eager
    conf.broker_url, conf.broker_transport_options, conf.task_always_eager = REDIS_URL, {}, False
    celery_app._after_fork()  # drop pooled connections to the previous broker
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.ping()  # Redis down: fail here, loudly
    # Start from an empty broker: a task left by an earlier run (a killed worker's unacked
    # ETA tasks come back after the visibility timeout) names rows by ids that a fresh test
    # database gives again, e.g. a reminder then claimed ahead of its time.
    celery_app.control.purge()
    client.delete("unacked", "unacked_index", "unacked_mutex")
    try:
        yield REDIS_URL
    finally:
        conf.broker_url, conf.broker_transport_options, conf.task_always_eager = saved
        celery_app._after_fork()


class Worker:
    """`celery -A portal worker -B` in its own process group (SIGKILL takes beat with it)."""

    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 4) -> None:
        self.env, self.log_path, self.concurrency = env, log_path, concurrency
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        log = self.log_path.open("ab")
        name = f"test-{uuid.uuid4().hex[:8]}@%h"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "-B",
                "-n",
                name,
                "--pool=threads",
                f"--concurrency={self.concurrency}",
                "-l",
                "info",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],  # fmt: skip
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.kill(signal.SIGTERM)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # an orphaned beat, if any

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture
def worker_env(redis_broker, providers, tmp_path) -> dict[str, str]:
    twilio, smtp = providers
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DEBUG": "False",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": redis_broker,
            "CELERY_BEAT_SCHEDULE_FILENAME": str(tmp_path / "beat"),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
            "EMAIL_TIMEOUT": "3",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "TWILIO_API_BASE_URL": twilio.url,
            "TWILIO_STATUS_CALLBACK_URL": CALLBACK_URL,
            "TWILIO_TIMEOUT_SECONDS": "2",
            # Short clocks so that repairs happen within the test's time.
            "NOTIFICATIONS_SWEEP_SECONDS": "1",
            "NOTIFICATIONS_SWEEP_GRACE_SECONDS": "2",
            "NOTIFICATIONS_CLAIM_TIMEOUT_SECONDS": "4",
            "NOTIFICATIONS_RETRY_BASE_SECONDS": "0.5",
            "NOTIFICATIONS_RETRY_MAX_SECONDS": "2",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.pop("REDIS_URL", None)
    return env


@pytest.fixture
def start_worker(worker_env, tmp_path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(**kwargs) -> Worker:
        worker = Worker(worker_env, tmp_path / "worker.log", **kwargs).start()
        workers.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()
