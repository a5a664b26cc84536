"""TURN credentials reach browsers where ICE servers do (room page, WebSocket state, device
test page) and the engine when it uses TURN; the TURN secret never reaches a page."""

from __future__ import annotations

import datetime as dt
import json
import re
import time

import pytest
from django.test import override_settings
from django.utils import timezone

from media.turn import turn_credential
from portal import citizen as citizen_links
from rooms.mediabridge import engine_ice_servers
from tests import factories
from tests.portal.test_demo_and_settings import PRODUCTION, run_manage
from tests.rooms.conftest import Client, run

SECRET = "shared-with-coturn-only-3f9a1c77"
STUN = {"urls": "stun:stun.mairie.example.fr:3478"}
URLS = ["turn:turn.mairie.example.fr:3478?transport=udp", "turn:turn.mairie.example.fr:3478?transport=tcp",
        "turns:turn.mairie.example.fr:443?transport=tcp"]
TURN = override_settings(ICE_SERVERS=[STUN], TURN_URLS=URLS, TURN_SECRET=SECRET, TURN_TTL_SECONDS=1800)


def config_of(page: str) -> dict:
    match = re.search(r'<script id="gv-config" type="application/json">(.*?)</script>', page, re.S)
    assert match, "no client config on the page"
    return json.loads(match.group(1))


def assert_fresh_credentials(servers: list[dict], user: str, ttl: int = 1800) -> None:
    assert servers[0] == STUN
    turn = servers[1]
    assert turn["urls"] == URLS
    expiry, name = turn["username"].split(":")
    assert name == user
    assert time.time() + ttl - 30 < int(expiry) <= time.time() + ttl
    assert turn["credential"] == turn_credential(SECRET, turn["username"])


@TURN
def test_room_page_gives_the_participant_its_own_credentials_never_the_secret(client, room, alice):
    factories.signed_in(client, alice)
    client.get(f"/r/{room.slug}/agent/")
    page = client.get(f"/r/{room.slug}/room/").content.decode()
    config = config_of(page)
    assert_fresh_credentials(config["ice_servers"], config["pid"])
    assert SECRET not in page


@TURN
@pytest.mark.django_db(transaction=True)
def test_every_websocket_connection_gets_fresh_credentials(room, citizen):
    async def scenario():
        servers = []
        for _ in range(2):
            guest = await Client(room.slug, citizen.pid).connect()
            state = await guest.expect("state")
            assert SECRET not in json.dumps(state)
            servers.append(state["ice_servers"])
            await guest.close()
        return servers

    first, second = run(scenario())
    for servers in (first, second):
        assert_fresh_credentials(servers, str(citizen.pid))


@TURN
def test_device_test_page_gets_credentials_of_a_random_name(client, structure_a, alice):
    appointment = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(days=1))
    url = f"/rdv/{citizen_links.make_token(appointment)}/test/"
    pages = [client.get(url).content.decode() for _ in range(2)]
    names = []
    for page in pages:
        assert SECRET not in page
        servers = config_of(page)["ice_servers"]
        names.append(servers[1]["username"].split(":")[1])
        assert_fresh_credentials(servers, names[-1])
    assert names[0] != names[1] and len(names[0]) == 16


def test_without_turn_urls_browsers_get_ice_servers_only(client, room, alice):
    with override_settings(ICE_SERVERS=[STUN], TURN_URLS=[], TURN_SECRET=SECRET):
        factories.signed_in(client, alice)
        client.get(f"/r/{room.slug}/agent/")
        assert config_of(client.get(f"/r/{room.slug}/room/").content.decode())["ice_servers"] == [STUN]


def test_engine_gets_credentials_of_its_own_only_with_media_use_turn():
    with TURN, override_settings(MEDIA_USE_TURN=False):
        assert engine_ice_servers() == [STUN]
    with TURN, override_settings(MEDIA_USE_TURN=True):
        per_connection = engine_ice_servers()
        assert_fresh_credentials(per_connection("p-1"), "engine-p-1")


def test_turn_settings_are_checked_at_start():
    turn = {**PRODUCTION, "TURN_URLS": ",".join(URLS)}
    result = run_manage("check", env=turn)
    assert result.returncode != 0 and "TURN_URLS needs TURN_SECRET" in result.stderr
    result = run_manage("check", env={**turn, "TURN_URLS": "turn.mairie.fr:3478", "TURN_SECRET": SECRET})
    assert result.returncode != 0 and "not a TURN URL" in result.stderr
    result = run_manage("check", env={**turn, "TURN_SECRET": SECRET})
    assert result.returncode == 0, result.stderr
