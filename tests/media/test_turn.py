"""TURN REST credentials (media/turn.py): the scheme, a known vector, and coturn itself
(Debian's turnserver on loopback, as the README configures it) accepting them over UDP,
TCP and TLS through aioice's TURN client, and refusing expired or forged ones."""

from __future__ import annotations

import asyncio
import ssl
import time

import pytest
from aioice import stun, turn

from media.turn import check_turn_url, ice_servers, turn_credential, turn_username
from tests.turnserver import make_certificates, running_coturn

SECRET = "north-wind-secret-0123"


def test_known_vector_computed_by_openssl():
    # printf '%s' '1700000000:alice' | openssl dgst -sha1 -hmac north-wind-secret-0123 -binary | base64
    assert turn_credential(SECRET, "1700000000:alice") == "s0SQRI+SV6HZXj/zo4FG30PZScY="
    assert turn_credential(SECRET, "1700003600:p-42") == "Fb0OOfb+b59m4yqci3ecnirg55k="
    assert turn_credential(SECRET + "x", "1700003600:p-42") != "Fb0OOfb+b59m4yqci3ecnirg55k="


def test_ice_servers_keep_the_static_ones_and_add_expiring_credentials():
    static = [{"urls": "stun:stun.mairie.fr:3478"}]
    urls = ["turn:turn.mairie.fr:3478?transport=udp", "turns:turn.mairie.fr:443?transport=tcp"]
    servers = ice_servers(static, urls, SECRET, 600, "p-42", now=1700003000.7)
    assert servers == [
        {"urls": "stun:stun.mairie.fr:3478"},
        {"urls": urls, "username": "1700003600:p-42", "credential": "Fb0OOfb+b59m4yqci3ecnirg55k="},
    ]
    assert servers[0] is not static[0]  # the settings' list is never handed out to be changed
    # The expiry follows the clock and the TTL; the secret itself is nowhere in the list.
    later = ice_servers(static, urls, SECRET, 3600, "p-42")
    expiry = int(later[1]["username"].split(":")[0])
    assert time.time() + 3590 < expiry <= time.time() + 3600
    assert SECRET not in repr(later)
    # No TURN without URLs or without a secret: only the static servers.
    assert ice_servers(static, [], SECRET, 600, "p") == static
    assert ice_servers(static, urls, "", 600, "p") == static


def test_usernames_and_urls_are_checked():
    with pytest.raises(ValueError):
        turn_username(1700000000, "a:b")  # ':' separates the expiry in coturn
    assert check_turn_url("turns:turn.mairie.fr:443?transport=tcp")
    assert check_turn_url("turn:[2001:db8::1]:3478")
    for bad in ("stun:turn.mairie.fr", "turn:", "turn:host:3478?transport=sctp", "https://turn.mairie.fr"):
        with pytest.raises(ValueError):
            check_turn_url(bad)


class _Sink(asyncio.DatagramProtocol):
    pass


async def _allocate(server: tuple[str, int], username: str, password: str, transport: str,
                    tls: ssl.SSLContext | None = None) -> tuple[str, int]:
    """One TURN allocation through aioice's client: the relayed address coturn granted."""
    relay, _ = await asyncio.wait_for(
        turn.create_turn_endpoint(_Sink, server_addr=server, username=username, password=password,
                                  transport=transport, ssl=tls),
        10,
    )
    try:
        return relay.get_extra_info("sockname")
    finally:
        relay.close()


def test_coturn_accepts_our_credentials_and_refuses_expired_or_forged_ones(tmp_path):
    certificates = make_certificates(tmp_path, ["127.0.0.1"])
    with running_coturn(tmp_path, "127.0.0.1", certificates) as coturn:
        tls = ssl.create_default_context(cafile=str(certificates.ca))
        fresh = ice_servers([], coturn.urls(), coturn.secret, 300, "p-fresh")[0]
        expired = ice_servers([], coturn.urls(), coturn.secret, 300, "p-old", now=time.time() - 301)[0]
        forged = ice_servers([], coturn.urls(), "not-" + coturn.secret, 300, "p-forged")[0]

        async def scenario() -> None:
            plain, secure = ("127.0.0.1", coturn.port), ("127.0.0.1", coturn.tls_port)
            for transport, address, context in (("udp", plain, None), ("tcp", plain, None), ("tcp", secure, tls)):
                host, port = await _allocate(address, fresh["username"], fresh["credential"], transport, context)
                assert host == "127.0.0.1" and port > 0
            for refused in (expired, forged):
                with pytest.raises(stun.TransactionFailed) as error:
                    await _allocate(plain, refused["username"], refused["credential"], "tcp")
                assert error.value.response.attributes["ERROR-CODE"][0] == 401

        asyncio.run(scenario())


def test_a_relay_allocated_in_time_outlives_its_credentials(tmp_path):
    """coturn checks the expiry when the relay is allocated: afterwards the client still
    refreshes it and opens permissions to new peers (a call longer than TURN_TTL_SECONDS)."""
    certificates = make_certificates(tmp_path, ["127.0.0.1"])
    with running_coturn(tmp_path, "127.0.0.1", certificates) as coturn:
        server = ice_servers([], coturn.urls(), coturn.secret, 2, "p-long-call")[0]
        expiry = int(server["username"].split(":")[0])

        async def scenario() -> None:
            relay, _ = await turn.create_turn_endpoint(
                _Sink, server_addr=("127.0.0.1", coturn.port), username=server["username"],
                password=server["credential"], transport="tcp")
            try:
                while time.time() <= expiry + 1:  # until the credentials are past
                    await asyncio.sleep(0.1)
                client = relay._TurnTransport__inner_protocol
                refresh = stun.Message(message_method=stun.Method.REFRESH, message_class=stun.Class.REQUEST)
                refresh.attributes["LIFETIME"] = 600
                permission = stun.Message(message_method=stun.Method.CREATE_PERMISSION,
                                          message_class=stun.Class.REQUEST)
                permission.attributes["XOR-PEER-ADDRESS"] = ("192.0.2.10", 5000)  # not loopback: allowed
                for request in (refresh, permission):
                    response, _ = await client.request_with_retry(request)
                    assert response.message_class == stun.Class.RESPONSE
            finally:
                relay.close()

        asyncio.run(scenario())
