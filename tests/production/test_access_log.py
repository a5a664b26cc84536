"""Daphne's log as deploy/Procfile runs it (`web1`'s command, production settings): a
citizen's links opened, and none of their secrets nor the client's address in what Daphne
and Django write; the access lines keep their NCSA form (tests/e2e/test_stack.py reads
`"GET /admin/` in them)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.deploy import stack
from tests.e2e.harness import free_port, make_appointment, stop
from tests.production.server import Browser, production_env
from tests.production.test_static import database_url
from tests.waiting import wait_until

pytestmark = [pytest.mark.services]


@pytest.mark.django_db(transaction=True)
def test_daphne_and_django_log_no_token_and_no_client_address(collected, tmp_path):
    from notifications.shortlinks import short_url
    from portal.citizen import make_token
    from rooms import tokens

    _agent, room = make_appointment(start_in_minutes=5)
    personal, manage = tokens.make(room), make_token(room.appointment)
    code = urlsplit(short_url(room.appointment, room.join_url)).path.rsplit("/", 1)[1]
    forged = manage[:-6] + "AAAAAA"  # a bad signature: 404, and Django logs "Not Found: <path>"

    port = free_port()
    env = production_env(collected.var_dir, collected.static_root, DATABASE_URL=database_url(),
                         DAPHNE_PORT_1=str(port))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"  # the venv's daphne
    log = tmp_path / "web1.log"
    with log.open("ab") as out:
        process = subprocess.Popen(["sh", "-c", stack.procfile()["web1"]], cwd=stack.ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        browser = Browser(port)

        def answers() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                return browser.get("/healthz", timeout=2).status == 200
            except OSError:
                return False

        wait_until(answers, 60, interval=0.2, what="daphne")
        visits = {f"/r/{room.slug}/?t={personal}": 200, f"/rdv/{manage}/": 200, f"/rdv/{manage}/test/": 200,
                  f"/j/{code}": 302, f"/rdv/{forged}/": 404, "/admin/": 302}
        for path, status in visits.items():
            assert browser.get(path).status == status, path
        wait_until(lambda: '"GET /admin/"' in log.read_text(), 10, what="the last access line")
    finally:
        stop(process)

    written = log.read_text()
    for secret in (personal, manage, forged, code, room.slug):
        assert secret not in written, secret
    access = [line for line in written.splitlines() if re.match(r"^\S+ - - \[", line)]
    requests = [re.search(r'"(GET \S+)" (\d{3})', line).groups() for line in access]  # type: ignore[union-attr]
    assert ("GET /r/*/?*", "200") in requests and ("GET /rdv/*/", "200") in requests
    assert ("GET /rdv/*/test/", "200") in requests and ("GET /j/*", "302") in requests
    assert ("GET /rdv/*/", "404") in requests and ("GET /admin/", "302") in requests
    assert {line.split(" ", 1)[0] for line in access} == {"127.0.0.0/24"}  # the client's network only
    assert "Not Found: /rdv/*/" in written  # Django's line, through the same rules
