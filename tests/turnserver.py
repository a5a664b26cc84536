"""Debian's coturn for tests, configured as the README says (use-auth-secret, TLS), plus a
certificate authority and a server certificate generated for the test.

coturn runs from a config file written here, with the test's own secret, and is stopped
by PID in `finally`. Installed by CI: apt package `coturn`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.harness import stop

TURNSERVER = "/usr/bin/turnserver"
REALM = "guichet.test"


@dataclass
class Certificates:
    ca: Path  # PEM of the authority a client must trust
    cert: Path  # server certificate chain (PEM)
    key: Path  # server private key (PEM)


def make_certificates(folder: Path, ips: list[str], names: tuple[str, ...] = ("turn.guichet.test",)) -> Certificates:
    """A throw-away CA and a TLS server certificate for `ips` and `names`, valid one day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(name("Guichet Visio test CA")).issuer_name(name("Guichet Visio test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alt = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (
        x509.CertificateBuilder().subject_name(name(names[0])).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    out = Certificates(folder / "ca.pem", folder / "turn-cert.pem", folder / "turn-key.pem")
    out.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    out.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    out.key.chmod(0o600)
    return out


def free_tcp_udp_port(host: str) -> int:
    """A port free for both TCP and UDP on `host` (coturn listens on both)."""
    for _ in range(50):
        with socket.socket() as tcp:
            tcp.bind((host, 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
            return port
    raise RuntimeError(f"no free TCP+UDP port on {host}")


@dataclass
class Coturn:
    host: str
    port: int  # plain TURN, UDP and TCP
    tls_port: int  # TURN over TLS
    secret: str
    log: Path
    process: subprocess.Popen

    def urls(self, host: str | None = None) -> list[str]:
        """The TURN_URLS a portal would be given for this server (UDP, TCP, TLS)."""
        host = host or self.host
        return [f"turn:{host}:{self.port}?transport=udp", f"turn:{host}:{self.port}?transport=tcp",
                f"turns:{host}:{self.tls_port}?transport=tcp"]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextlib.contextmanager
def running_coturn(folder: Path, host: str, certificates: Certificates, extra: tuple[str, ...] = (),
                   timeout: float = 15) -> Iterator[Coturn]:
    """coturn on `host` with a fresh secret, the README's options, TLS with `certificates`;
    `extra` config lines (e.g. allowed peers) for this test only."""
    port, tls_port = free_tcp_udp_port(host), free_tcp_udp_port(host)
    secret = secrets.token_urlsafe(24)
    log = folder / "turnserver.log"
    config = folder / "turnserver.conf"
    config.write_text("\n".join([
        f"listening-ip={host}", f"relay-ip={host}", f"listening-port={port}", f"tls-listening-port={tls_port}",
        "fingerprint", "use-auth-secret", f"static-auth-secret={secret}", f"realm={REALM}",
        f"cert={certificates.cert}", f"pkey={certificates.key}",
        "no-multicast-peers", "no-dtls", "no-cli", "no-rfc5780", "no-software-attribute",
        f"log-file={log}", "simple-log", "no-stdout-log", f"pidfile={folder / 'turnserver.pid'}",
        f"userdb={folder / 'turndb'}",  # not the system's /var/lib/turn
        *extra, "",
    ]))
    config.chmod(0o600)  # it holds the secret
    process = subprocess.Popen([TURNSERVER, "-c", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    server = Coturn(host, port, tls_port, secret, log, process)
    try:
        deadline = time.monotonic() + timeout
        while not all(_listening(host, p) for p in (port, tls_port)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"coturn did not start (exit {process.poll()}):\n{server.log_text()[-3000:]}")
            time.sleep(0.1)
        yield server
    finally:
        stop(process)


def _listening(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0
