"""The production shape on loopback, from the files an operator copies (deploy/).

nginx runs deploy/nginx-site.conf rendered by deploy/render.py (wrapped in a minimal main
configuration whose pid, logs and temporary files stay in the test's folder); every line of
deploy/Procfile runs as honcho would run it (`sh -c`, from the repository's root, the
environment of deploy/env.example), each in its own process group so one can be killed
alone (honcho itself stops everything when one process exits). Every process is stopped in
`finally`, by its PID.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import ipaddress
import os
import signal
import ssl
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e import harness
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NGINX = "/usr/sbin/nginx"
MIME_TYPES = "/etc/nginx/mime.types"  # Debian's nginx-common


def procfile(path: Path = DEPLOY / "Procfile") -> dict[str, str]:
    """name -> command, in the file's order, read by honcho's own parser."""
    from honcho.environ import parse_procfile

    return dict(parse_procfile(path.read_text()).processes)


def env_file(path: Path, values: dict[str, str]) -> dict[str, str]:
    """Write an environment file as an operator would (deploy/env.example's form) and read
    it back with honcho's parser (`honcho -e`): what the processes get."""
    from honcho.environ import parse

    path.write_text("".join(f'{name}="{value}"\n' for name, value in values.items()))
    return parse(path.read_text())


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1: (certificate, key) files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


SITE_ACCESS_LOG = "/var/log/nginx/guichet-visio.access.log"
SYSLOG = "unix:/dev/log"


def render_site(folder: Path, values: dict[str, str], syslog: Path | None = None) -> Path:
    """deploy/nginx-site.conf through deploy/render.py, as the README tells an operator. The
    one change: its logs stay in `folder` (access log: `site_access_log`) and its error lines
    go to the syslog socket `syslog` (none listens by default: nginx then notes that it could
    not send them), not to this machine's /var/log and /dev/log."""
    rendered = subprocess.run(
        [sys.executable, str(DEPLOY / "render.py"), str(DEPLOY / "nginx-site.conf"),
         *(f"{k}={v}" for k, v in values.items())],
        capture_output=True, text=True, check=True,
    ).stdout
    assert SITE_ACCESS_LOG in rendered and SYSLOG in rendered, "the site's log destinations moved: update stack.py"
    rendered = rendered.replace(SITE_ACCESS_LOG, str(site_access_log(folder)))
    # (a socket's path is short: 108 bytes, which a test's folder may pass)
    rendered = rendered.replace(SYSLOG, f"unix:{syslog or '/nonexistent/guichet-visio-syslog.sock'}")
    site = folder / "guichet-visio.conf"
    site.write_text(rendered)
    return site


def site_access_log(folder: Path) -> Path:
    return folder / "guichet-visio.access.log"


def nginx_main(folder: Path, site: Path, extra: str = "") -> Path:
    """What /etc/nginx/nginx.conf gives a site on Debian, with everything in `folder`
    (`extra`: more directives of the http block, for a test)."""
    temp = {name: folder / f"nginx-{name}" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    main = folder / "nginx.conf"
    main.write_text(f"""
daemon off;
worker_processes 1;
user {getpass.getuser()};
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log info;
events {{ worker_connections 512; }}
http {{
    include {MIME_TYPES};
    default_type application/octet-stream;
    access_log {folder}/nginx-access.log;
    {" ".join(f"{name}_temp_path {path};" for name, path in temp.items())}
    {extra}
    include {site};
}}
""")
    return main


@dataclass
class Stack:
    base: str  # https://localhost:PORT, through nginx
    folder: Path
    env: dict[str, str]
    daphne_ports: list[int]  # of the Procfile's web1, web2
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)  # Procfile name (and "nginx")
    cert: Path | None = None

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def log_tail(self, chars: int = 3000) -> str:
        """Every process's last lines (shown when a test fails)."""
        out = []
        for name in self.processes:
            path = self.log(name)
            if path.exists():
                out.append(f"--- {name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(out)

    def sockets_on(self, port: int) -> int:
        """Established connections to a Daphne: nginx keeps none open between requests,
        so these are the WebSockets it carries."""
        listing = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                                 capture_output=True, text=True, check=True).stdout
        return len(listing.splitlines())

    def kill(self, name: str) -> None:
        """SIGKILL to one process (its whole group), as a crash would."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _wait(what: str, ready: Callable[[], bool], stack: Stack, timeout: float) -> None:
    def ready_while_alive() -> bool:
        dead = [name for name, p in stack.processes.items() if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{what}: not ready (exited: {dead})\n{stack.log_tail()}")
        return ready()

    wait_until(ready_while_alive, timeout, interval=0.2, what=lambda: f"{what}\n{stack.log_tail()}")


def _answers(url: str, headers: dict[str, str], context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=3,
                                    context=context) as answer:
            return answer.status == 200
    except OSError:
        return False


def _start(stack: Stack, name: str, argv: list[str], env: dict[str, str]) -> None:
    with stack.log(name).open("ab") as out:
        stack.processes[name] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                                 start_new_session=True)


@contextlib.contextmanager
def running(database_url: str, folder: Path, secrets: dict[str, str], timeout: float = 60) -> Iterator[Stack]:
    """nginx, 2 Daphne, a Celery worker and beat, 2 media nodes on PostgreSQL (an existing,
    migrated database) and Redis (keys under a prefix of their own), DEBUG=0."""
    import redis

    from media.nodes.registry import NODES_KEY

    folder.mkdir(parents=True, exist_ok=True)
    https, http = harness.free_port(), harness.free_port()
    daphne_ports = [harness.free_port(), harness.free_port()]
    base = f"https://localhost:{https}"
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    prefix = f"gvstack{uuid.uuid4().hex[:8]}"
    static_root = folder / "static"
    env = env_file(folder / "env", {
        # deploy/env.example, filled in for this machine
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        **secrets,  # SECRET_KEY and ROOM_PASSWORD_KEY: the test process signs links and codes
        "ALLOWED_HOSTS": "localhost",
        "CSRF_TRUSTED_ORIGINS": base,
        "SITE_URL": base,
        "BEHIND_PROXY": "1",
        "TRUSTED_PROXIES": "1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STATIC_ROOT": str(static_root),
        "GV_VAR_DIR": str(folder / "var"),
        "MEDIA_NODES": "remote",
        "DAPHNE_PORT_1": str(daphne_ports[0]),
        "DAPHNE_PORT_2": str(daphne_ports[1]),
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(harness.free_port()),  # nothing listens: mails fail and are retried
        # this run's own share of the machine's Redis
        "CHANNELS_PREFIX": prefix,
        "MEDIA_REDIS_PREFIX": prefix + ":",
        "CELERY_QUEUE": prefix,
        # test clocks and loopback-only WebRTC (BROWSER-TESTS.md)
        "NOTIFICATIONS_SWEEP_SECONDS": "1",
        "MEDIA_NODE_MAX_AGE": "2.0",
        "GV_TEST_LOOPBACK_ICE": "1",
    })
    stack = Stack(base, folder, env, daphne_ports)
    client = redis.Redis.from_url(redis_url)
    commands = procfile()
    web = [name for name, command in commands.items() if command.startswith("daphne ")]
    try:
        # What needs no static files starts while they are collected (Daphne reads the manifest).
        for name, command in commands.items():
            if name not in web:
                _start(stack, name, ["sh", "-c", command], env)
        collected = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT,
                                   env=env, capture_output=True, text=True)
        if collected.returncode:
            raise RuntimeError(f"collectstatic failed:\n{collected.stderr[-3000:]}")
        cert, key = certificate(folder)
        stack.cert = cert
        site = render_site(folder, {
            "SERVER_NAME": "localhost",
            "HTTP_LISTEN": f"127.0.0.1:{http}", "HTTP_LISTEN6": f"[::1]:{http}",
            "HTTPS_LISTEN": f"127.0.0.1:{https}", "HTTPS_LISTEN6": f"[::1]:{https}",
            "TLS_CERT": str(cert), "TLS_KEY": str(key),
            "DAPHNE_1": f"127.0.0.1:{daphne_ports[0]}", "DAPHNE_2": f"127.0.0.1:{daphne_ports[1]}",
            "STATIC_ROOT": str(static_root),
        })
        _start(stack, "nginx", [NGINX, "-p", str(folder), "-c", str(nginx_main(folder, site))], env)
        for name in web:
            _start(stack, name, ["sh", "-c", commands[name]], env)

        direct = {"Host": "localhost", "X-Forwarded-Proto": "https"}  # as nginx sends them
        for port in daphne_ports:
            _wait(f"daphne :{port}", lambda p=port: _answers(f"http://127.0.0.1:{p}/jsi18n/", direct), stack,
                  timeout)
        trusted = ssl.create_default_context(cafile=str(cert))
        _wait("nginx", lambda: _answers(f"{base}/jsi18n/", {}, trusted), stack, timeout)
        _wait("media nodes", lambda: len(client.hkeys(prefix + ":" + NODES_KEY)) == 2, stack, timeout)
        # Beat queues the sweep every second; the worker running one proves both and the broker.
        _wait("celery beat and worker", lambda: "notifications.sweep" in _text(stack.log("worker"))
              and "succeeded" in _text(stack.log("worker")), stack, timeout)
        yield stack
    finally:
        for process in stack.processes.values():  # all at once, then each waited for
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in stack.processes.values():
            harness.stop(process)
        for key in client.scan_iter(f"*{prefix}*"):  # with kombu's bindings of the queue
            client.delete(key)
        client.close()


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
