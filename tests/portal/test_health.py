"""/healthz, /readyz and the back-office alert, in process on the real database and Redis.

Processes for real (a server on a closed database port, beat, worker, media node):
tests/production/test_readiness.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from django.utils import timezone

from media.nodes.registry import NodeRegistry
from portal import health
from tests.e2e.harness import free_port

pytestmark = [pytest.mark.django_db, pytest.mark.services]


def beats(beat_age: float | None, worker_age: float | None) -> None:
    now = timezone.now()
    for name, age in ((health.BEAT, beat_age), (health.WORKER, worker_age)):
        if age is not None:
            health.record(name, now - dt.timedelta(seconds=age))


@pytest.fixture
def media_prefix(settings):
    """Remote media nodes under a Redis prefix of this test's own (none announced yet)."""
    settings.MEDIA_NODES = "remote"
    settings.MEDIA_REDIS_PREFIX = f"gvhealth{uuid.uuid4().hex[:8]}:"
    return settings.MEDIA_REDIS_PREFIX


def announce(prefix: str, node_id: str, *, seconds_ago: float = 0) -> None:
    from django.conf import settings

    async def go():
        registry = NodeRegistry(settings.REDIS_URL, prefix=prefix)
        await registry.announce(node_id, load=0, cpu=0.0, accepting=True)
        if seconds_ago:  # an old announcement: the node has been silent since
            import json

            key = prefix + "gv:media:nodes"
            entry = json.loads(await registry.redis.hget(key, node_id))
            entry["ts"] -= seconds_ago
            await registry.redis.hset(key, node_id, json.dumps(entry))
        await registry.close()

    asyncio.run(go())


def readyz(client) -> tuple[int, dict]:
    answer = client.get("/readyz")
    return answer.status_code, answer.json()


def test_healthz_answers_without_looking_at_anything(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "alive"}
    assert "no-cache" in answer["Cache-Control"]


def test_ready_when_database_redis_nodes_and_heartbeats_are_fresh(client, media_prefix):
    beats(beat_age=3, worker_age=5)
    announce(media_prefix, "node-a")
    status, body = readyz(client)
    assert status == 200, body
    assert body["status"] == "ready" and body["down"] == []
    assert set(body["checks"]) == {"database", "redis", "media_nodes", "celery_beat", "celery_worker"}
    assert body["checks"]["media_nodes"]["detail"] == "1 live: node-a"


def test_not_ready_when_redis_is_down(client, settings):
    beats(beat_age=1, worker_age=1)
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    status, body = readyz(client)
    assert status == 503 and body["status"] == "not ready" and body["down"] == ["redis"]
    assert body["checks"]["redis"] == {"ok": False, "detail": "unreachable: ConnectionError"}


def test_not_ready_when_no_media_node_announced_or_all_are_silent(client, media_prefix, settings):
    beats(beat_age=1, worker_age=1)
    status, body = readyz(client)
    assert status == 503 and body["down"] == ["media_nodes"]
    assert body["checks"]["media_nodes"]["detail"] == "no live media node"
    announce(media_prefix, "node-old", seconds_ago=settings.MEDIA_NODE_MAX_AGE + 1)
    status, body = readyz(client)
    assert status == 503 and body["down"] == ["media_nodes"]
    announce(media_prefix, "node-new")
    assert readyz(client)[0] == 200


def test_a_silent_beat_and_a_missing_worker_are_told_apart(client, settings):
    old = settings.HEARTBEAT_MAX_AGE + 5
    beats(beat_age=1, worker_age=old)  # beat publishes, nobody runs the task
    status, body = readyz(client)
    assert status == 503 and body["down"] == ["celery_worker"]
    assert body["checks"]["celery_worker"]["detail"].startswith("no worker ran the heartbeat task")
    beats(beat_age=old, worker_age=old)  # beat stopped: the worker cannot be judged
    status, body = readyz(client)
    assert body["down"] == ["celery_beat", "celery_worker"]
    assert body["checks"]["celery_beat"]["detail"].startswith("silent, last seen")
    assert body["checks"]["celery_worker"]["detail"].startswith("unknown while beat is silent")


def test_never_seen_heartbeats_are_not_ready(client):
    status, body = readyz(client)
    assert status == 503 and {"celery_beat", "celery_worker"} <= set(body["down"])
    assert body["checks"]["celery_beat"]["detail"] == "silent, never seen"


ALERT = 'id="gv-operations-alert"'


@pytest.mark.parametrize("path", ["/admin/", "/admin/day/"])
def test_the_back_office_shows_an_alert_while_something_is_silent(client_of, alice, media_prefix, settings, path):
    agent = client_of(alice)
    old = settings.HEARTBEAT_MAX_AGE + 5
    announce(media_prefix, "node-a")
    beats(beat_age=1, worker_age=1)
    page = agent.get(path).content.decode()
    assert ALERT not in page

    beats(beat_age=old, worker_age=old)
    page = agent.get(path).content.decode()
    assert ALERT in page and "le planificateur (Celery beat) ne répond plus" in page
    assert "aucun worker Celery" not in page  # not judged while beat is silent

    beats(beat_age=1, worker_age=old)
    page = agent.get(path).content.decode()
    assert "aucun worker Celery ne tourne" in page and "planificateur" not in page

    beats(beat_age=1, worker_age=1)
    settings.MEDIA_REDIS_PREFIX = f"gvhealth{uuid.uuid4().hex[:8]}:"  # every node silent
    page = agent.get(path).content.decode()
    assert ALERT in page and "aucun serveur vidéo ne répond" in page


def test_the_back_office_shows_refused_provider_credentials_for_an_hour(client_of, alice, media_prefix, settings):
    from portal.models import Heartbeat

    agent = client_of(alice)
    announce(media_prefix, "node-a")
    beats(beat_age=1, worker_age=1)
    assert ALERT not in agent.get("/admin/").content.decode()
    # As notifications/alerts.py records it when Twilio answers 401 (tests/notifications/test_fallback.py).
    Heartbeat.objects.create(name="sms_credentials", at=timezone.now())
    page = agent.get("/admin/").content.decode()
    assert ALERT in page and "le fournisseur de SMS (Twilio) refuse nos identifiants" in page
    Heartbeat.objects.filter(name="sms_credentials").update(
        at=timezone.now() - dt.timedelta(minutes=settings.PROVIDER_ALERT_MINUTES + 1))
    assert ALERT not in agent.get("/admin/").content.decode()
