"""The client's address behind proxies: right-most untrusted hop of X-Forwarded-For."""

import ipaddress

import pytest
from django.test import RequestFactory, override_settings
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from portal import clientaddress
from portal.clientaddress import Trusted, client_address, parse_trusted

ONE_PROXY = parse_trusted(["1"])
LOOPBACK_PROXIES = parse_trusted(["127.0.0.1", "10.0.0.0/8"])


def valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def test_without_trusted_proxies_the_header_is_ignored():
    assert client_address("192.0.2.9", "203.0.113.5", Trusted()) == "192.0.2.9"


def test_one_proxy_hop_takes_what_nginx_appended():
    # The client sent a forged header; nginx appended the real peer.
    assert client_address("127.0.0.1", "6.6.6.6, 203.0.113.5", ONE_PROXY) == "203.0.113.5"
    assert client_address("127.0.0.1", "203.0.113.5", ONE_PROXY) == "203.0.113.5"


def test_trusted_networks_are_skipped_from_the_right():
    chain = "6.6.6.6, 203.0.113.5, 10.1.2.3"  # client -> 10.1.2.3 (internal LB) -> 127.0.0.1 (nginx)
    assert client_address("127.0.0.1", chain, LOOPBACK_PROXIES) == "203.0.113.5"
    # A peer that is not a trusted proxy is the client, whatever it claims.
    assert client_address("198.51.100.4", chain, LOOPBACK_PROXIES) == "198.51.100.4"


def test_count_and_networks_together():
    trusted = parse_trusted(["1", "10.0.0.0/8"])
    assert client_address("192.0.2.1", "203.0.113.5, 10.0.0.7", trusted) == "203.0.113.5"


def test_all_hops_trusted_or_missing_header_gives_the_furthest_readable_hop():
    assert client_address("127.0.0.1", None, ONE_PROXY) == "127.0.0.1"
    assert client_address("127.0.0.1", "10.0.0.2", LOOPBACK_PROXIES) == "10.0.0.2"
    # An unreadable hop written by a proxy stops the walk: nothing to its left is believed.
    assert client_address("127.0.0.1", "203.0.113.5, unknown", LOOPBACK_PROXIES) == "127.0.0.1"


def test_ports_brackets_mapped_and_unix_socket():
    assert client_address("127.0.0.1", "203.0.113.5:4711", ONE_PROXY) == "203.0.113.5"
    assert client_address("127.0.0.1", "[2001:db8::7]:443", ONE_PROXY) == "2001:db8::7"
    assert client_address("::ffff:192.0.2.8", None, Trusted()) == "192.0.2.8"
    assert client_address(None, "203.0.113.5", ONE_PROXY) == "203.0.113.5"  # Daphne on a Unix socket
    assert client_address(None, None, Trusted()) == clientaddress.UNKNOWN


def test_bad_setting_is_refused():
    with pytest.raises(ValueError):
        parse_trusted(["nginx"])
    assert parse_trusted([" 2 ", "", "::1"]) == Trusted(2, (ipaddress.ip_network("::1"),))


def test_limit_key_groups_ipv6_by_56():
    assert clientaddress.limit_key("2001:db8:1:2:aaaa::1") == clientaddress.limit_key("2001:db8:1:ff:bbbb::9")
    assert clientaddress.limit_key("2001:db8:1:2:aaaa::1") == "2001:db8:1::/56"
    assert clientaddress.limit_key("2001:db8:1:100::1") != clientaddress.limit_key("2001:db8:1:2::1")
    assert clientaddress.limit_key("192.0.2.1") == "192.0.2.1"


hop_text = st.one_of(
    st.text(max_size=60),
    st.ip_addresses().map(str),
    st.ip_addresses(v=4).map(lambda a: f"{a}:{a.packed[0]}"),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]:443"),
    st.sampled_from(["unknown", "_hidden", "", " ", "[", "]", "[::1", "1.2.3.4:", ":::", "%", "::1%eth0"]),
)
trusted_config = st.lists(
    st.one_of(st.integers(0, 5).map(str), st.sampled_from(["127.0.0.1", "10.0.0.0/8", "::1", "2001:db8::/32"])),
    max_size=4,
).map(parse_trusted)


@hypothesis_settings(deadline=None)  # a busy CI machine must not fail a correct test
@given(
    remote=st.one_of(st.none(), hop_text),
    header=st.one_of(st.none(), st.lists(hop_text, max_size=8).map(", ".join), st.text(max_size=200)),
    trusted=trusted_config,
)
def test_any_header_gives_a_valid_address_and_never_raises(remote, header, trusted):
    address = client_address(remote, header, trusted)
    assert valid(address)


@hypothesis_settings(deadline=None)  # a busy CI machine must not fail a correct test
@given(
    client=st.ip_addresses(),
    forged=st.lists(hop_text, max_size=6),
    proxy=st.sampled_from(["127.0.0.1", "::1"]),
)
def test_forged_left_hops_never_change_the_answer_with_one_proxy(client, forged, proxy):
    """Whatever the client puts in the header, the proxy's appended entry wins."""
    header = ", ".join([*forged, str(client)])
    expected = str(client.ipv4_mapped or client) if client.version == 6 else str(client)
    assert client_address(proxy, header, ONE_PROXY) == expected


@hypothesis_settings(deadline=None)  # a busy CI machine must not fail a correct test
@given(header=st.text(max_size=100), client=st.ip_addresses(v=4))
def test_without_setting_any_header_is_ignored(header, client):
    assert client_address(str(client), header, Trusted()) == str(client)


@hypothesis_settings(deadline=None)  # a busy CI machine must not fail a correct test
@given(address=st.one_of(st.text(max_size=50), st.ip_addresses().map(str)))
def test_limit_key_never_raises(address):
    key = clientaddress.limit_key(address)
    assert valid(key) or ipaddress.ip_network(key).prefixlen == 56


def test_from_request_reads_the_setting():
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5")
    with override_settings(TRUSTED_PROXIES=[]):
        assert clientaddress.from_request(request) == "127.0.0.1"
    with override_settings(TRUSTED_PROXIES=["127.0.0.1"]):
        assert clientaddress.from_request(request) == "203.0.113.5"


def test_from_scope_joins_repeated_headers():
    scope = {
        "type": "websocket",
        "client": ["127.0.0.1", 50000],
        "headers": [(b"x-forwarded-for", b"6.6.6.6"), (b"host", b"x"), (b"X-Forwarded-For", b"203.0.113.5")],
    }
    with override_settings(TRUSTED_PROXIES=["1"]):
        assert clientaddress.from_scope(scope) == "203.0.113.5"
        assert clientaddress.from_scope({"type": "websocket", "client": None, "headers": []}) == clientaddress.UNKNOWN
    with override_settings(TRUSTED_PROXIES=[]):
        assert clientaddress.from_scope(scope) == "127.0.0.1"


def test_a_malformed_setting_stops_the_start():
    from tests.portal.test_demo_and_settings import PRODUCTION, run_manage

    result = run_manage("check", env={**PRODUCTION, "TRUSTED_PROXIES": "1,nginx"})
    assert result.returncode != 0 and "TRUSTED_PROXIES" in result.stderr
    code = "from django.conf import settings as s; print(s.TRUSTED_PROXIES)"
    result = run_manage("shell", "--no-imports", "-c", code, env={**PRODUCTION, "TRUSTED_PROXIES": "1,10.0.0.0/8"})
    assert result.stdout.strip() == "['1', '10.0.0.0/8']", result.stderr
