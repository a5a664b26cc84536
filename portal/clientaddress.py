"""The client's address behind reverse proxies, from REMOTE_ADDR and X-Forwarded-For.

Every proxy appends the address of whoever connected to it (nginx:
`proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for`), so the chain, read from
the right, is: REMOTE_ADDR (the nearest hop), then what each trusted proxy saw. Only the
entries written by our own proxies can be believed; anything to their left was sent by
the client and may be forged. The client is therefore the right-most hop that is not one
of our proxies. Daphne's `--proxy-headers` takes the left-most entry instead: spoofable,
not used.

`TRUSTED_PROXIES` (setting, a list) names the proxies: a number N (the N nearest hops are
proxies, e.g. `1` for one nginx in front of Daphne) and/or addresses and CIDR networks
(`127.0.0.1,10.0.0.0/8`); a hop is a proxy if either says so. Without it the header is
ignored and REMOTE_ADDR is the client. A connection with no REMOTE_ADDR (Daphne on a Unix
socket) can only come from a local process: it counts as a proxy hop when proxies are
configured.

`from_request` (Django HttpRequest, also `AXES_CLIENT_IP_CALLABLE`) and `from_scope` (ASGI
scope, for consumers) never raise and always return a valid IP address string.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

UNKNOWN = "0.0.0.0"  # noqa: S104  (no usable address at all: one shared bucket)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Trusted:
    hops: int = 0
    networks: tuple[Network, ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.hops or self.networks)

    def trusts(self, position: int, address: Address) -> bool:
        """Is the hop at `position` (0 = REMOTE_ADDR) one of our proxies?"""
        return position < self.hops or any(address in network for network in self.networks)


def parse_trusted(entries: Iterable[str]) -> Trusted:
    """`["1"]`, `["127.0.0.1", "10.0.0.0/8"]`, or both; ValueError on anything else."""
    hops, networks = 0, []
    for raw in entries:
        entry = str(raw).strip()
        if not entry:
            continue
        if entry.isdigit():
            hops = max(hops, int(entry))
        else:
            networks.append(ipaddress.ip_network(entry, strict=False))
    return Trusted(hops=hops, networks=tuple(networks))


def parse_address(text: str) -> Address | None:
    """One hop as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:80`."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]  # IPv4 with a port
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:  # a dual-stack socket's view of an IPv4 client
            return address.ipv4_mapped
        return ipaddress.IPv6Address(int(address))  # drop any %zone
    return address


def client_address(remote_addr: str | None, forwarded_for: str | None, trusted: Trusted) -> str:
    """The right-most hop that is not a trusted proxy (see the module's docstring)."""
    nearest = parse_address(remote_addr) if isinstance(remote_addr, str) else None
    if not trusted.configured:
        return str(nearest) if nearest is not None else UNKNOWN
    hops: list[Address | None] = [nearest]
    if forwarded_for:
        hops += [parse_address(part) for part in reversed(str(forwarded_for).split(","))]
    seen: Address | None = None  # the last hop we could read
    for position, hop in enumerate(hops):
        if hop is None:
            if position == 0:
                continue  # no REMOTE_ADDR: a local socket, i.e. our proxy
            break  # unreadable: nothing further left can be believed
        seen = hop
        if not trusted.trusts(position, hop):
            return str(hop)
    # Every readable hop is a proxy (or the chain breaks): the furthest one we could read.
    return str(seen) if seen is not None else UNKNOWN


@lru_cache(maxsize=8)
def _trusted(entries: tuple[str, ...]) -> Trusted:
    return parse_trusted(entries)


def configured_proxies() -> Trusted:
    from django.conf import settings

    return _trusted(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))


def from_request(request) -> str:
    """The client's address of a Django HttpRequest (views, django-axes)."""
    meta = request.META
    return client_address(meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"), configured_proxies())


def from_scope(scope: Mapping[str, Any]) -> str:
    """The client's address of an ASGI scope (WebSocket consumers)."""
    client = scope.get("client") or (None,)
    forwarded = [
        value.decode("latin-1") for name, value in scope.get("headers") or () if name.lower() == b"x-forwarded-for"
    ]
    return client_address(client[0], ",".join(forwarded) or None, configured_proxies())


def limit_key(address: str) -> str:
    """What a per-address limit counts: the IPv4 address, or the IPv6 /56.

    One subscriber usually holds a whole IPv6 prefix (a /56 at most French ISPs, a /60 or
    /64 at some), so counting single addresses would give an attacker 2^64 fresh ones, and
    counting /64s still 65,536 from the /48 a tunnel broker hands out for free: by /56 that
    /48 is 256 addresses. A few subscribers may share a /56, as many share an IPv4 address
    behind carrier-grade NAT."""
    parsed = parse_address(address)
    if parsed is None:
        return UNKNOWN
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(parsed) >> 72 << 72, 56)))
    return str(parsed)


LOG_PREFIX = {4: 24, 6: 48}  # what a log line keeps of an address (also deploy/nginx-site.conf's map)


def for_log(address: str | None) -> str:
    """The network a log line names instead of the client: IPv4 /24, IPv6 /48 (as
    `203.0.113.0/24`, `2001:db8:85a3::/48`). Enough to see that one provider or one
    attacker's network is at work, not to tell one subscriber from its neighbours; the exact
    address, where a limit needs it, is in the database and purged after
    RETENTION_ADDRESS_DAYS. `-` when there is none (a Unix socket, garbage)."""
    parsed = parse_address(address) if isinstance(address, str) else None
    if parsed is None:
        return "-"
    return str(ipaddress.ip_network(f"{parsed}/{LOG_PREFIX[parsed.version]}", strict=False))
