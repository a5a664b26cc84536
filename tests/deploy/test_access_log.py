"""nginx's logs, from the shipped site (deploy/nginx-site.conf): the real nginx in front of a
tiny upstream, requests carrying a citizen's tokens from 127.0.0.1 and from ::1. The access
log holds neither the tokens nor the addresses, and says the same as portal/logprivacy.py
(Daphne's and Django's lines); the error lines, which nginx cannot format, go to the
journal (syslog), never to a file of nginx's; the journal's retention matches
RETENTION_ADDRESS_DAYS."""

from __future__ import annotations

import configparser
import contextlib
import http.client
import ipaddress
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from django.core import signing

from notifications.shortlinks import new_code
from portal import logprivacy
from portal.clientaddress import for_log
from rooms.secrets import new_slug
from tests.deploy import stack
from tests.e2e import harness
from tests.waiting import wait_until

# `$guichet_log_addr - - [time] "METHOD target PROTOCOL" status bytes seconds "upstreams"`
LINE = re.compile(r'^(\S+) - - \[[^\]]+\] "(\S+) (\S+) (\S+)" (\d{3}) (\d+) ([\d.]+) "([^"]*)"$')
# Addresses nginx takes from X-Test-Client (realip, in this test's main configuration only),
# as if the requests came from there. Each is cut to the network portal/clientaddress.for_log gives.
CLIENTS = ["203.0.113.77", "198.51.100.23", "2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::8a2e:370:7348",
           "2001:db8::1", "2001:db8:0:1::5", "2a01:cb00::42", "2a01:e0a:12:3400::7"]


class Upstream(BaseHTTPRequestHandler):
    """Daphne's stand-in: 200 for everything; a path ending in /boom/ gets its connection
    closed without an answer (nginx: an error line, then 502)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path.split("?")[0].endswith("/boom/"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet


@dataclass
class Site:
    folder: Path
    https: int
    http: int
    context: ssl.SSLContext
    syslog: socket.socket
    nginx: subprocess.Popen

    def get(self, host: str, path: str, client: str | None = None, tls: bool = True) -> int:
        connection: http.client.HTTPConnection
        if tls:
            connection = http.client.HTTPSConnection(host, self.https, context=self.context, timeout=10)
        else:
            connection = http.client.HTTPConnection(host, self.http, timeout=10)
        try:
            headers = {"Host": "localhost", **({"X-Test-Client": client} if client else {})}
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    def access_lines(self, count: int) -> list[re.Match[str]]:
        """The site's access log once it has `count` lines (nginx writes a line after the
        answer is sent: the client may read it first)."""
        log = stack.site_access_log(self.folder)
        wait_until(lambda: len(log.read_text().splitlines()) >= count, 10, interval=0.05,
                   what=lambda: f"{count} lines in\n{log.read_text()}")
        text = log.read_text()
        assert len(text.splitlines()) == count, text
        matches = [LINE.match(line) for line in text.splitlines()]
        assert all(matches), text  # every line in the site's format
        return [m for m in matches if m]

    def files_text(self) -> str:
        """Everything nginx wrote in its folder (the site's access log, the main configuration's
        own access and error logs)."""
        return "\n".join(p.read_text(errors="replace") for p in self.folder.glob("*.log"))


@pytest.fixture
def site(tmp_path) -> Iterator[Site]:
    short = Path(tempfile.mkdtemp(prefix="gvlog"))  # a socket's path must be short
    syslog = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    syslog.bind(str(short / "log"))
    syslog.settimeout(10)
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    https, http = harness.free_port(), harness.free_port()
    cert, key = stack.certificate(tmp_path)
    daphne = f"127.0.0.1:{upstream.server_address[1]}"
    rendered = stack.render_site(tmp_path, {
        "SERVER_NAME": "localhost",
        "HTTP_LISTEN": f"127.0.0.1:{http}", "HTTP_LISTEN6": f"[::1]:{http}",
        "HTTPS_LISTEN": f"127.0.0.1:{https}", "HTTPS_LISTEN6": f"[::1]:{https}",
        "TLS_CERT": str(cert), "TLS_KEY": str(key), "DAPHNE_1": daphne, "DAPHNE_2": daphne,
        "STATIC_ROOT": str(tmp_path),
    }, syslog=short / "log")
    main = stack.nginx_main(tmp_path, rendered, extra="set_real_ip_from 127.0.0.1; set_real_ip_from ::1; "
                                                      "real_ip_header X-Test-Client;")
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False  # the certificate names localhost and 127.0.0.1, not ::1
    with (tmp_path / "nginx.log").open("ab") as out:
        nginx = subprocess.Popen([stack.NGINX, "-p", str(tmp_path), "-c", str(main)], stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    site = Site(tmp_path, https, http, context, syslog, nginx)
    try:
        def answers() -> bool:
            assert nginx.poll() is None, (tmp_path / "nginx.log").read_text()
            with contextlib.suppress(OSError):
                return site.get("127.0.0.1", "/healthz") == 200
            return False

        wait_until(answers, 20, interval=0.1, what="nginx")
        site.access_lines(1)  # the probe that answered (those before found no nginx)
        stack.site_access_log(tmp_path).write_text("")
        yield site
    finally:
        harness.stop(nginx)
        upstream.shutdown()
        upstream.server_close()
        syslog.close()
        shutil.rmtree(short, ignore_errors=True)


def secrets() -> dict[str, str]:
    """A citizen's link token (the shape portal/citizen.py and rooms/tokens.py sign: a
    compressed signed object), an SMS short code, a room slug, a password-reset token."""
    token = signing.Signer(salt="guichet.portal.manage-link").sign_object({"a": 4242, "c": "0123456789abcdef"},
                                                                          compress=True)
    return {"token": token, "code": new_code(), "slug": new_slug(), "reset": "set-password",
            "search": "Dupont"}


def test_the_access_log_holds_no_token_and_no_client_address(site):
    s = secrets()
    paths = [f"/rdv/{s['token']}/", f"/rdv/{s['token']}/test/", f"/rdv/{s['token']}/compte-rendu.pdf",
             f"/j/{s['code']}", f"/r/{s['slug']}/?t={s['token']}", f"/ws/rooms/{s['slug']}/",
             f"/comptes/mot-de-passe/MQ/{s['reset']}/", f"/admin/portal/appointment/?q={s['search']}",
             "/admin/day/12/row/", "/comptes/mot-de-passe/envoye/"]
    for host in ("127.0.0.1", "::1"):
        for path in paths:
            assert site.get(host, path) == 200
    assert site.get("::1", f"/rdv/{s['token']}/", tls=False) == 301  # the plain-HTTP server's redirect

    lines = site.access_lines(2 * len(paths) + 1)
    addresses = [line.group(1) for line in lines]
    assert addresses == ["127.0.0.0/24"] * len(paths) + ["::/48"] * (len(paths) + 1)
    # The same target, as nginx and as portal/logprivacy.py (Daphne, Django) write it.
    assert [line.group(3) for line in lines] == [logprivacy.path(p) for p in paths] * 2 + ["/rdv/*/"]
    assert [line.group(3) for line in lines[:len(paths)]] == [
        "/rdv/*/", "/rdv/*/test/", "/rdv/*/compte-rendu.pdf", "/j/*", "/r/*/?*", "/ws/rooms/*/",
        "/comptes/mot-de-passe/*/*/", "/admin/portal/appointment/?*", "/admin/day/12/row/",
        "/comptes/mot-de-passe/envoye/"]
    assert {line.group(2) for line in lines} == {"GET"} and {line.group(5) for line in lines} == {"200", "301"}
    assert all(line.group(8).startswith("127.0.0.1:") for line in lines[:-1])  # the Daphne that answered

    written = site.files_text()
    for secret in s.values():
        assert secret not in written, secret
    # The requests went to the site's log only: Debian's `combined` one stayed empty.
    assert not (site.folder / "nginx-access.log").read_text()


def test_the_client_address_is_cut_to_the_network_logprivacy_gives(site):
    for client in CLIENTS:
        assert site.get("127.0.0.1", "/healthz", client=client) == 200
    logged = [line.group(1) for line in site.access_lines(len(CLIENTS))]
    assert [ipaddress.ip_network(net) for net in logged] == [ipaddress.ip_network(for_log(c)) for c in CLIENTS]
    written = site.files_text()
    for client in CLIENTS:
        assert client not in written, client


def test_error_lines_go_to_the_journal_not_to_nginx_files(site):
    token = secrets()["token"]
    assert site.get("127.0.0.1", f"/rdv/{token}/boom/?t={token}") == 502  # the upstream hung up
    message = site.syslog.recv(65536).decode(errors="replace")
    assert "guichet_nginx: " in message and "upstream prematurely closed" in message
    assert token not in site.files_text()
    (line,) = site.access_lines(1)
    assert (line.group(3), line.group(5)) == ("/rdv/*/boom/?*", "502")
    assert line.group(8).count("127.0.0.1:") == 2  # tried on both Daphne (here the same one)


def test_the_journal_keeps_nothing_longer_than_the_address_retention():
    drop_in = configparser.ConfigParser()
    drop_in.read(stack.DEPLOY / "journald-guichet-visio.conf")
    days = {name: int(drop_in["Journal"][name].removesuffix("day")) for name in ("MaxRetentionSec", "MaxFileSec")}
    # journald deletes a whole file once its newest entry is past MaxRetentionSec, at a
    # rotation (every MaxFileSec): an entry can live MaxRetentionSec + 2 x MaxFileSec.
    assert days["MaxRetentionSec"] + 2 * days["MaxFileSec"] == settings.RETENTION_ADDRESS_DAYS == 7
