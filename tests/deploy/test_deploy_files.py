"""The files an operator copies from deploy/: the nginx template renders only when complete
and nginx accepts it; the Procfile is valid for honcho; env.example names real settings;
Celery beat and a worker start from the Procfile on a fresh checkout with REDIS_URL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from tests import factories
from tests.deploy import stack
from tests.e2e import harness
from tests.notifications.conftest import database_url

SITE_VALUES = {
    "SERVER_NAME": "localhost",
    "HTTP_LISTEN": "127.0.0.1:8080", "HTTP_LISTEN6": "[::1]:8080",
    "HTTPS_LISTEN": "127.0.0.1:8443", "HTTPS_LISTEN6": "[::1]:8443",
    "DAPHNE_1": "127.0.0.1:8001", "DAPHNE_2": "127.0.0.1:8002",
}


def render(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(stack.DEPLOY / "render.py"), str(stack.DEPLOY / "nginx-site.conf"),
                           *args], capture_output=True, text=True)


def test_the_nginx_template_renders_only_with_every_value_and_nginx_accepts_it(tmp_path):
    cert, key = stack.certificate(tmp_path)
    values = {**SITE_VALUES, "TLS_CERT": str(cert), "TLS_KEY": str(key), "STATIC_ROOT": str(tmp_path)}

    incomplete = render(*(f"{k}={v}" for k, v in values.items() if k != "TLS_KEY"))
    assert incomplete.returncode == 1 and "no value for TLS_KEY" in incomplete.stderr
    unknown = render(*(f"{k}={v}" for k, v in values.items()), "SERVERNAME=typo")
    assert unknown.returncode == 1 and "not in the template: SERVERNAME" in unknown.stderr

    site = stack.render_site(tmp_path, values)
    assert "{{" not in site.read_text()
    main = stack.nginx_main(tmp_path, site)
    checked = subprocess.run([stack.NGINX, "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr


def test_the_procfile_is_valid_for_honcho_and_lists_the_production_processes():
    checked = subprocess.run([Path(sys.executable).parent / "honcho", "-f", stack.DEPLOY / "Procfile", "check"],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    commands = stack.procfile()
    assert sorted(commands) == ["beat", "node1", "node2", "web1", "web2", "worker"]
    assert [c.split()[0] for c in commands.values()] == ["daphne", "daphne", "celery", "celery", "python", "python"]
    # README's systemd instances are these entries (one unit per process).
    instances = re.findall(r"guichet-visio@\{([a-z0-9,]+)\}", (stack.ROOT / "README.md").read_text())
    assert instances and all(group.split(",") == list(commands) for group in instances)


def test_env_example_names_only_settings_the_portal_reads():
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', (stack.ROOT / "portal" / "settings.py").read_text()))
    procfile = set(re.findall(r"\$\{([A-Z0-9_]+)", (stack.DEPLOY / "Procfile").read_text()))
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (stack.DEPLOY / "env.example").read_text(), re.M))
    outside = {"PATH", "DJANGO_SETTINGS_MODULE", "GV_VAR_DIR"}  # the shell, Django, and VAR_DIR's own reader
    assert {"SECRET_KEY", "ROOM_PASSWORD_KEY", "DATABASE_URL", "REDIS_URL", "MEDIA_NODES"} <= named
    assert named - read - procfile - outside == set()


@pytest.mark.services
def test_beat_and_a_worker_start_on_a_fresh_checkout_with_redis(transactional_db, tmp_path, structure_a, alice):
    """var/celery/ does not exist yet: beat creates it for its schedule (it used to die
    with FileNotFoundError: the folder was made only for the filesystem broker). Its
    sweeps run: the presence sweep clears a ghost (online, its process dead)."""
    from rooms import presence
    from rooms.models import Participant

    room = factories.appointment(structure_a, alice, start=timezone.now() + timezone.timedelta(minutes=5)).room
    ghost = presence.enter_as_guest(room, "Jeanne Dupont")
    Participant.objects.filter(pk=ghost.pk).update(online=True, lease_until=timezone.now(), channel="specific.x!1")
    var = tmp_path / "fresh" / "var"
    queue = f"gvbeat{uuid.uuid4().hex[:8]}"
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin", "HOME": os.environ.get("HOME", "/"),
           "PYTHONUNBUFFERED": "1", "DEBUG": "0", "DJANGO_SETTINGS_MODULE": "portal.settings",
           "SECRET_KEY": settings.SECRET_KEY, "ROOM_PASSWORD_KEY": settings.ROOM_PASSWORD_KEY.decode(),
           "DATABASE_URL": database_url(), "REDIS_URL": redis_url, "GV_VAR_DIR": str(var), "CELERY_QUEUE": queue,
           "NOTIFICATIONS_SWEEP_SECONDS": "1", "PRESENCE_SWEEP_SECONDS": "1"}
    commands = stack.procfile()
    logs = {name: tmp_path / f"{name}.log" for name in ("beat", "worker")}
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name, log in logs.items():
            with log.open("ab") as out:
                processes[name] = subprocess.Popen(["sh", "-c", commands[name]], cwd=stack.ROOT, env=env, stdout=out,
                                                   stderr=subprocess.STDOUT, start_new_session=True)

        def swept() -> bool:
            assert all(p.poll() is None for p in processes.values()), {n: read(p) for n, p in logs.items()}
            return re.search(r"Task notifications\.sweep\[[^]]+\] succeeded", read(logs["worker"])) is not None

        harness.wait_until(swept, 60, what="beat queuing the sweep and the worker running it")
        assert "Sending due task notifications-sweep" in read(logs["beat"])
        assert list((var / "celery").glob("beat*"))  # the schedule, where the settings say
        harness.wait_until(lambda: not Participant.objects.get(pk=ghost.pk).online, 60,
                           what="the presence sweep to clear the ghost")
        assert "Sending due task rooms-presence-sweep" in read(logs["beat"])
    finally:
        for process in processes.values():
            harness.stop(process)
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"*{queue}*"):
            client.delete(key)
        client.close()


def read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
