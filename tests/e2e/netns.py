"""A network namespace linked to this machine by a veth pair, with its own firewall
(nftables), to run a browser on a "strict network" while every packet stays on this host.

Needs root (CI runs as root) and Debian's `iproute2` and `nftables`. The namespace, and
with it the veth pair, is deleted in `finally`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

IP, NFT = "/usr/sbin/ip", "/usr/sbin/nft"
BLOCK_UDP = "meta l4proto udp drop"


@dataclass
class Namespace:
    name: str
    host_ip: str  # this machine's end of the veth pair
    ns_ip: str  # the namespace's end

    def run(self, *command: str) -> subprocess.CompletedProcess:
        return _run(IP, "netns", "exec", self.name, *command)

    def firewall(self, *rules: str) -> None:
        """Replace the namespace's firewall: `rules` dropped or rejected both ways (nft syntax)."""
        body = "\n".join(f"    {rule}" for rule in rules)
        ruleset = (
            "flush ruleset\ntable inet strict {\n"
            f"  chain output {{\n    type filter hook output priority 0; policy accept;\n{body}\n  }}\n"
            f"  chain input {{\n    type filter hook input priority 0; policy accept;\n{body}\n  }}\n}}\n"
        )
        _run(IP, "netns", "exec", self.name, NFT, "-f", "-", stdin=ruleset)

    def wrapper(self, folder: Path, program: str, env: dict[str, str] | None = None) -> Path:
        """An executable that runs `program` inside the namespace (for Playwright's executable_path)."""
        script = folder / f"{Path(program).name}-in-{self.name}"
        exports = "".join(f"export {key}='{value}'\n" for key, value in (env or {}).items())
        script.write_text(f'#!/bin/sh\n{exports}exec {IP} netns exec {self.name} {program} "$@"\n')
        script.chmod(0o755)
        return script


def _run(*command: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")
    return result


def _unused_link() -> ipaddress.IPv4Network:
    """A /30 in 10.231.0.0/16 that no interface of this machine uses."""
    used = _run(IP, "-4", "-o", "addr", "show").stdout
    for _ in range(100):
        link = ipaddress.ip_network(f"10.231.{random.randrange(256)}.{4 * random.randrange(64)}/30")
        if str(next(link.hosts())) not in used:
            return link
    raise RuntimeError("no free 10.231.x.x/30 for the test's veth pair")


@contextlib.contextmanager
def namespace() -> Iterator[Namespace]:
    """A fresh namespace `gvt<pid>` with `lo` and one veth link to this machine, no firewall yet."""
    name = f"gvt{os.getpid()}"
    host_end, ns_end = f"{name}h", f"{name}n"  # interface names: 15 characters at most
    link = _unused_link()
    host_ip, ns_ip = (str(address) for address in link.hosts())
    try:
        _run(IP, "netns", "add", name)
        _run(IP, "link", "add", host_end, "type", "veth", "peer", "name", ns_end)
        _run(IP, "link", "set", ns_end, "netns", name)
        _run(IP, "addr", "add", f"{host_ip}/30", "dev", host_end)
        _run(IP, "link", "set", host_end, "up")
        space = Namespace(name, host_ip, ns_ip)
        space.run(IP, "addr", "add", f"{ns_ip}/30", "dev", ns_end)
        space.run(IP, "link", "set", ns_end, "up")
        space.run(IP, "link", "set", "lo", "up")
        yield space
    finally:
        subprocess.run([IP, "netns", "del", name], capture_output=True, timeout=30)  # takes its veth end along
        subprocess.run([IP, "link", "del", host_end], capture_output=True, timeout=30)  # if it was left behind
