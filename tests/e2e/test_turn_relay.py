"""A citizen on a network that blocks UDP reaches the call through coturn, over TCP, and
over TLS when plain TCP to the TURN port is blocked too.

The citizen's Chromium runs in a network namespace (tests/e2e/netns.py) whose only link is
a veth pair to this machine, with nftables dropping UDP (and, for TLS, TCP to coturn's plain
port). Debian's coturn, the portal (Daphne, in-process media engine) and the agent's
Chromium run on this machine, on the veth's host address. The portal hands out TURN REST
credentials (TURN_URLS, TURN_SECRET) that coturn checks; the page's RTCPeerConnection is
the normal one (iceTransportPolicy "all"): it has to find the relay path by itself.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.urls import reverse

from portal import citizen as citizen_links
from tests.e2e import harness, netns, steps
from tests.e2e.conftest import DEBUG_STATE, Browsers
from tests.turnserver import Certificates, Coturn, make_certificates, running_coturn

pytestmark = pytest.mark.e2e

SELECTED_PAIR = """async () => {
    const pc = window.gvDebug.pc;
    const stats = [...(await pc.getStats()).values()];
    const byId = new Map(stats.map((s) => [s.id, s]));
    const transport = stats.find((s) => s.type === "transport" && s.selectedCandidatePairId);
    const pair = transport && byId.get(transport.selectedCandidatePairId);
    const side = (c) => c && { type: c.candidateType, protocol: c.protocol, relayProtocol: c.relayProtocol ?? null,
                               address: c.address, port: c.port, url: c.url ?? null };
    return { policy: pc.getConfiguration().iceTransportPolicy, state: pair?.state ?? null,
             local: side(pair && byId.get(pair.localCandidateId)),
             remote: side(pair && byId.get(pair.remoteCandidateId)),
             bytesReceived: pair?.bytesReceived ?? 0 };
}"""


@dataclass
class StrictNetwork:
    space: netns.Namespace
    coturn: Coturn
    server: harness.Server
    certificates: Certificates
    folder: Path


@pytest.fixture(scope="module")
def strict_network(e2e_db, tmp_path_factory) -> Iterator[StrictNetwork]:
    folder = tmp_path_factory.mktemp("turn-relay")
    with netns.namespace() as space:
        certificates = make_certificates(folder, [space.host_ip])
        # coturn as the README configures it, on the veth's host address. Its peers (the
        # engine's host candidates) are this machine's own non-loopback addresses: no
        # allow-loopback-peers needed.
        with running_coturn(folder, space.host_ip, certificates) as coturn, harness.running_server(
            e2e_db, folder, host=space.host_ip,
            extra_env={
                "ALLOWED_HOSTS": space.host_ip,
                "GV_TEST_LOOPBACK_ICE": "0",  # the engine offers this machine's real addresses
                "ICE_SERVERS": "[]",
                "TURN_URLS": ",".join(coturn.urls()),
                "TURN_SECRET": coturn.secret,
                "TURN_TTL_SECONDS": "600",
            },
        ) as server:
            yield StrictNetwork(space, coturn, server, certificates, folder)


def selected_pair(page, seconds: float = 10) -> dict:
    """The selected candidate pair once a check on it has succeeded: a pair in use reads
    "in-progress" for a moment while a consent check's answer is outstanding (seen over
    TURN/TCP on a busy machine)."""
    deadline = time.monotonic() + seconds
    while True:
        pair = page.evaluate(SELECTED_PAIR)
        if pair["state"] == "succeeded" or time.monotonic() > deadline:
            return pair
        page.wait_for_timeout(200)


def trusting_home(folder: Path, ca: Path) -> Path:
    """A HOME whose NSS database trusts the test's CA: Chromium checks a TURN server's certificate."""
    home = folder / "citizen-home"
    database = home / ".pki" / "nssdb"
    database.mkdir(parents=True, exist_ok=True)
    certutil = ["/usr/bin/certutil", "-d", f"sql:{database}"]
    subprocess.run([*certutil, "-N", "--empty-password"], check=True, capture_output=True, timeout=30)
    subprocess.run([*certutil, "-A", "-t", "C,,", "-n", "guichet-visio-test-ca", "-i", str(ca)],
                   check=True, capture_output=True, timeout=30)
    return home


# What the strict network lets through, besides the portal's HTTP port: TCP to coturn's
# plain port ("tcp"), or only its TLS port ("tls").
FIREWALLS = {
    "tcp": lambda net: [netns.BLOCK_UDP],
    "tls": lambda net: [netns.BLOCK_UDP, f"ip daddr {net.space.host_ip} tcp dport {net.coturn.port} drop"],
}


@pytest.mark.parametrize("relay", ["tcp", "tls"])
def test_citizen_without_udp_reaches_the_call_through_coturn(relay, strict_network, booked, playwright_driver,
                                                             tmp_path, django_db_blocker):
    net = strict_network
    net.space.firewall(*FIREWALLS[relay](net))
    agent, room = booked
    base = net.server.base
    secure = f"--unsafely-treat-insecure-origin-as-secure={base}"  # camera on http://<veth address>
    pool = Browsers(playwright_driver, tmp_path)
    try:
        agent_page = pool.open("agent", extra_args=(secure,))
        wrapper = net.space.wrapper(tmp_path, harness.CHROMIUM,
                                    env={"HOME": str(trusting_home(tmp_path, net.certificates.ca))})
        citizen = pool.open("citizen", extra_args=(secure,), executable=wrapper)

        # The citizen's browser really is on the strict network: UDP does not leave it.
        probe = net.space.run("/usr/bin/python3", "-c", _UDP_PROBE.format(host=net.space.host_ip))
        assert probe.stdout.strip() == "blocked", probe.stdout + probe.stderr

        steps.meet(agent_page, citizen, base, agent, room)  # admitted, video and sound both ways

        pair = selected_pair(citizen)
        assert pair["policy"] == "all"  # nothing forced: the page found the relay by itself
        assert pair["state"] == "succeeded" and pair["bytesReceived"] > 0, pair
        assert pair["local"]["type"] == "relay" and pair["local"]["relayProtocol"] == relay, pair
        scheme = "turns" if relay == "tls" else "turn"
        assert pair["local"]["url"].startswith(f"{scheme}:{net.space.host_ip}:"), pair
        assert net.coturn.secret not in citizen.content()  # only the HMAC reaches the page
        # The agent's browser, on this machine, reaches the engine directly.
        assert agent_page.evaluate(SELECTED_PAIR)["local"]["type"] == "host"

        # The device test page gets credentials too: its connection test passes through the relay.
        with django_db_blocker.unblock():
            test_path = reverse("device_test", kwargs={"token": citizen_links.make_token(room.appointment)})
        citizen.goto(base + test_path)
        citizen.evaluate("() => document.getElementById('gv-allow').click()")
        citizen.wait_for_function("() => document.body.dataset.gvTest", timeout=30_000)
        assert citizen.evaluate("() => document.body.dataset.gvTest") == "passed"
        assert net.coturn.secret not in citizen.content()
    finally:
        for context in pool.contexts:
            for page in context.pages:
                try:
                    print(f"page {page.url}\n  errors: {page.gv_errors[-10:]}\n  state:", page.evaluate(DEBUG_STATE))
                    print("  pair:", page.evaluate(SELECTED_PAIR))
                except Exception as error:  # noqa: BLE001 - diagnostics only
                    print("  state: unavailable", error)
            context.close()
        print("server log:\n" + net.server.log_tail())
        print("coturn log:\n" + net.coturn.log_text()[-3000:])


# Sends UDP to the host end of the veth pair: "blocked" when the firewall drops it.
_UDP_PROBE = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b"x", ("{host}", 9))
    print("sent")
except PermissionError:
    print("blocked")
"""
