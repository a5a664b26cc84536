"""What a log line may say about a request (portal/logprivacy.py): secret segments and query
strings out, routes readable, addresses cut to their network; every route of the portal with
a string parameter is either redacted or declared public; Django's, Daphne's and
django-axes' lines go through it."""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
import logging
import re
from collections.abc import Iterator

import pytest
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from portal import logprivacy
from portal.clientaddress import for_log

# Anything a URL's segment can hold (what a browser or an attacker sends), but "/", "?", "#".
SEGMENT = st.text(st.characters(codec="utf-8", exclude_characters="/?#", exclude_categories=("Cs",)), min_size=1,
                  max_size=40)
WORD = st.from_regex(r"[a-z][a-z_-]{0,15}", fullmatch=True)
READABLE = st.one_of(WORD, st.integers(0, 10**9).map(str), st.from_regex(r"[a-z][a-z-]{0,10}\.(pdf|js|css)",
                                                                         fullmatch=True))
SECRET_FIRST = {prefix.strip("/").split("/")[0] for prefix, _count in logprivacy.SECRET_SEGMENTS}
QUERY = st.text(min_size=1, max_size=40).filter(lambda q: "#" not in q)
EXAMPLES = hypothesis_settings(deadline=None, max_examples=150)  # a busy CI machine must not fail a correct test


@EXAMPLES
@given(route=st.sampled_from(logprivacy.SECRET_SEGMENTS), secrets=st.lists(SEGMENT, min_size=2, max_size=2),
       rest=st.lists(READABLE, max_size=4), slash=st.booleans(), query=st.one_of(st.none(), QUERY))
def test_secret_segments_and_query_strings_never_survive(route, secrets, rest, slash, query):
    prefix, count = route
    tail = "".join("/" + part for part in rest) + ("/" if slash else "")
    uri = prefix + "/".join(secrets[:count]) + tail + (f"?{query}" if query is not None else "")
    logged = logprivacy.path(uri)
    # Exactly the route, a `*` per secret, what follows, and `?*` for any query: whatever the
    # secret's characters, nothing of it (and nothing of the query) is left.
    assert logged == prefix + "/".join(["*"] * count) + tail + ("?*" if query else "")


@EXAMPLES
@given(first=WORD.filter(lambda w: w not in SECRET_FIRST), rest=st.lists(READABLE, max_size=5), slash=st.booleans())
def test_paths_without_secrets_stay_readable(first, rest, slash):
    uri = "/" + "/".join([first, *rest]) + ("/" if slash else "")
    assert logprivacy.path(uri) == uri


@EXAMPLES
@given(uri=st.text(max_size=80).map(lambda text: "/" + text))
def test_redaction_is_stable(uri):
    once = logprivacy.path(uri)
    assert logprivacy.path(once) == once
    assert "?" not in once or once.endswith("?*")


def test_examples_an_operator_reads():
    assert logprivacy.path("/rdv/.eJxVjE0KgzAQRu8y6wq1:1t2:AbC/test/?x=1") == "/rdv/*/test/?*"
    assert logprivacy.path("/r/kfdq-wmzt-bcxh/?t=secret") == "/r/*/?*"
    assert logprivacy.path("/comptes/mot-de-passe/MQ/set-password/") == "/comptes/mot-de-passe/*/*/"
    assert logprivacy.path("/comptes/mot-de-passe/envoye/") == "/comptes/mot-de-passe/envoye/"
    assert logprivacy.path("https://visio.example.fr/j/Ab3dE5gH7j") == "/j/*"  # absolute form
    assert logprivacy.path("*") == "*"


@EXAMPLES
@given(address=st.ip_addresses())
def test_an_address_is_cut_to_its_network(address):
    logged = ipaddress.ip_network(for_log(str(address)))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    assert address in logged
    assert logged.prefixlen == (24 if address.version == 4 else 48)
    assert logprivacy.client(f"{address}:51234") == str(logged)  # Daphne's "address:port"


@pytest.mark.parametrize("garbage", [None, "", "unix:", "not an address", "None"])
def test_no_address_is_a_dash(garbage):
    assert for_log(garbage) == "-" and logprivacy.client(garbage) == "-"


def routes(patterns: list, prefix: str = "") -> Iterator[tuple[str, URLPattern | URLResolver]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, route)
        else:
            yield route, pattern


def every_route() -> list[str]:
    from portal.routing import websocket_urlpatterns as day
    from rooms.phone.routing import websocket_urlpatterns as phone
    from rooms.routing import websocket_urlpatterns as rooms

    return [route for route, _p in [*routes(get_resolver().url_patterns), *routes([*rooms, *day, *phone])]]


def example(route: str) -> tuple[str, list[str]]:
    """A path of `route` with a distinct secret-looking value for each parameter that is not a
    number and not declared public, and those values."""
    secrets: list[str] = []

    def value(match: re.Match[str]) -> str:
        converter, name = match.group(1) or "str", match.group(2)
        if converter == "int" or name in logprivacy.PUBLIC_PARAMETERS:
            return "12"
        secrets.append(f"Sekr3t{len(secrets)}")
        return secrets[-1]

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", value, route), secrets


def test_every_route_with_a_secret_in_its_path_is_redacted():
    """A route parameter that is not a number and not declared public is taken for a secret:
    a new route with a token in its path fails here until logprivacy (and nginx's map) knows it."""
    checked = 0
    for route in every_route():
        names = re.findall(r"\(\?P<(\w+)>", route)  # regular-expression routes (the admin's)
        assert set(names) <= logprivacy.PUBLIC_PARAMETERS, route
        if names:
            continue
        uri, secrets = example(route)
        logged = logprivacy.path(uri)
        for secret in secrets:
            assert secret not in logged, (route, logged)
        checked += bool(secrets)
    assert checked >= 10  # /rdv/…, /r/…, /j/…, /ws/rooms/…, the accounts' one-time links


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What the configured console handler (settings.LOGGING) writes."""
    handler = next(h for h in logging.getLogger().handlers
                   if any(isinstance(f, logprivacy.RedactPaths) for f in h.filters))
    assert isinstance(handler, logging.StreamHandler)
    written = io.StringIO()
    previous = handler.setStream(written)
    try:
        yield written
    finally:
        handler.setStream(previous)


@pytest.mark.django_db
def test_django_request_and_security_lines_name_no_token(console):
    token = ".eJyrVkrOzytJzSsxVLJSMjYxMjIy0lFQsbE2VFIqBQBkKQbd:1t2X3y:AbCdEfGh"
    assert Client().get(f"/rdv/{token}/?t=x").status_code == 404  # "Not Found: /rdv/…/"
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(f"/rdv/{token}/", {"cancel": "1"}).status_code == 403  # "Forbidden (CSRF …): /rdv/…/"
    written = console.getvalue()
    assert "Not Found: /rdv/*/" in written and "Forbidden (CSRF" in written and ": /rdv/*/" in written
    assert token not in written and "?t=" not in written


def test_the_development_servers_lines_too(console):
    details = {"method": "GET", "path": "/j/Ab3dE5gH7j", "status": 302, "time_taken": 0.01, "client": "192.0.2.8:5"}
    logging.getLogger("django.channels.server").info("HTTP %(method)s %(path)s %(status)s [%(client)s]", details)
    assert "HTTP GET /j/* 302 [192.0.2.0/24]" in console.getvalue()


def test_other_loggers_pass_untouched(console):
    logging.getLogger("rooms.signalling").warning("room=%s path=%s", "kfdq-wmzt", "/r/kfdq-wmzt/")
    assert "room=kfdq-wmzt path=/r/kfdq-wmzt/" in console.getvalue()


def test_axes_lines_name_the_user_and_the_network_only(settings):
    from axes.helpers import get_client_str

    assert settings.AXES_CLIENT_STR_CALLABLE == "portal.logprivacy.axes_client"
    request = RequestFactory().post("/admin/login/?next=/rdv/x/")
    shown = get_client_str("alice", "203.0.113.77", "Firefox/128", "/admin/login/?next=/rdv/x/", request)
    assert shown == "{username: 'alice', ip_address: '203.0.113.0/24', path_info: '/admin/login/?*'}"


def test_daphne_access_lines_go_through_logprivacy():
    from daphne.access import AccessLogGenerator

    from portal import daphne_accesslog

    daphne_accesslog.install()
    daphne_accesslog.install()  # twice (asgi imported again): still once
    out = io.StringIO()
    log = AccessLogGenerator(out)
    log("http", "complete", {"path": "/rdv/tok:en/test/?t=1", "status": 200, "method": "GET",
                             "client": "2001:db8:85a3::7:51234", "time_taken": 0.01, "size": 42})
    log("websocket", "connected", {"path": "/ws/rooms/kfdq-wmzt/", "client": "203.0.113.77:4000"})
    first, second = out.getvalue().splitlines()
    assert re.fullmatch(r'2001:db8:85a3::/48 - - \[.+\] "GET /rdv/\*/test/\?\*" 200 42', first), first
    assert re.fullmatch(r'203\.0\.113\.0/24 - - \[.+\] "WSCONNECT /ws/rooms/\*/" - -', second), second
    assert dt.datetime.strptime(first.split("[")[1].split("]")[0], "%d/%b/%Y:%H:%M:%S")  # Daphne's own format
