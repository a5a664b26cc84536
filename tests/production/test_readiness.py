"""/readyz against real processes: a server whose database is a closed port, and a full set
(Celery beat and worker as separate processes, a media node, Redis, PostgreSQL) stopped
one part at a time."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import free_port, make_appointment, media_nodes_running, stop
from tests.production.server import ROOT, Server, daphne, production_env
from tests.production.test_static import database_url
from tests.waiting import wait_until

pytestmark = [pytest.mark.services]
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def readyz(server: Server) -> tuple[int, dict]:
    # A plain-HTTP probe (no X-Forwarded-Proto), as a load balancer or systemd sends it.
    answer = server.browser().request("GET", "/readyz", headers={"X-Forwarded-Proto": "http"})
    return answer.status, json.loads(answer.body)


def wait_for(condition: Callable[[], bool], timeout: float, what: str, log: Callable[[], str]) -> None:
    wait_until(condition, timeout, interval=0.2, what=lambda: f"{what}\n{log()}")


def test_not_ready_when_the_database_is_unreachable(tmp_path):
    env = production_env(tmp_path / "var", tmp_path / "static",
                         DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/guichet",
                         REDIS_URL=REDIS_URL)
    with daphne(env, tmp_path / "daphne.log") as server:
        assert server.browser().request("GET", "/healthz", headers={"X-Forwarded-Proto": "http"}).status == 200
        status, body = readyz(server)
    assert status == 503 and body["status"] == "not ready", body
    assert body["down"] == ["database", "celery_beat", "celery_worker"]
    assert body["checks"]["database"] == {"ok": False, "detail": "unreachable: OperationalError"}
    assert body["checks"]["redis"]["ok"] is True


@contextlib.contextmanager
def celery(kind: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`celery -A portal beat` or `worker`, each on its own, as deployed."""
    args = ["beat", "-s", str(log.with_suffix(".schedule"))] if kind == "beat" else [
        "worker", "-n", f"health-{uuid.uuid4().hex[:6]}@%h", "--pool=threads", "--concurrency=1",
        "--without-gossip", "--without-mingle"]
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal", *args, "-l", "info"],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        stop(process)


@pytest.mark.django_db(transaction=True)
def test_ready_with_everything_up_then_not_ready_naming_what_stopped(tmp_path):
    make_appointment()  # the database is in use, like a real one
    var = tmp_path / "var"
    max_age = "4"
    # Beat and worker share a filesystem broker of their own (no queue shared with other tests);
    # they reach the test database like the server.
    celery_env = production_env(var, tmp_path / "static", DATABASE_URL=database_url(),
                                HEARTBEAT_SECONDS="1", CELERY_BROKER_URL="filesystem://")
    with media_nodes_running(tmp_path, "node-h1") as nodes:
        server_env = production_env(var, tmp_path / "static", DATABASE_URL=database_url(), REDIS_URL=REDIS_URL,
                                    HEARTBEAT_MAX_AGE=max_age, MEDIA_NODE_MAX_AGE="2",
                                    MEDIA_NODES="remote", MEDIA_REDIS_PREFIX=nodes.prefix)
        with (daphne(server_env, tmp_path / "daphne.log") as server,
              celery("beat", celery_env, tmp_path / "beat.log") as beat,
              celery("worker", celery_env, tmp_path / "worker.log") as worker):
            def logs() -> str:
                return "\n".join(f"--- {n}\n{(tmp_path / n).read_text(errors='replace')[-2000:]}"
                                 for n in ("beat.log", "worker.log", "daphne.log"))

            wait_for(lambda: readyz(server)[0] == 200, 60, "ready", logs)
            status, body = readyz(server)
            assert body["status"] == "ready" and body["down"] == []
            assert {name: check["ok"] for name, check in body["checks"].items()} == {
                "database": True, "redis": True, "media_nodes": True, "celery_beat": True, "celery_worker": True}
            assert body["checks"]["media_nodes"]["detail"] == "1 live: node-h1"

            stop(worker)  # beat goes on publishing: "no worker"
            wait_for(lambda: readyz(server)[1]["down"] == ["celery_worker"], 30, "worker down", logs)
            assert readyz(server)[1]["checks"]["celery_worker"]["detail"].startswith("no worker ran")
            assert readyz(server)[0] == 503

            stop(beat)  # now beat is silent too
            wait_for(lambda: "celery_beat" in readyz(server)[1]["down"], 30, "beat down", logs)
            assert readyz(server)[1]["checks"]["celery_beat"]["detail"].startswith("silent")

            stop(nodes.processes["node-h1"])
            wait_for(lambda: "media_nodes" in readyz(server)[1]["down"], 30, "media node down", logs)
            assert readyz(server)[1]["checks"]["media_nodes"]["detail"] == "no live media node"
