"""What a log line may say about a request: the rules, in one place.

Many of our URLs are credentials: `/rdv/<token>/…` (the citizen's own link: manage, device
test, visit summary), `/j/<code>` (the SMS short link), `/r/<slug>/?t=<token>` (the personal
link), `/comptes/invitation/…` and `/comptes/mot-de-passe/<uid>/<token>/` (agents' one-time
links). Whoever reads a log holding them can act as the citizen or the agent. So a logged
path keeps its route and loses its secrets: those segments become `*`, and a query string
(personal links, the back-office's searches by name) becomes `?*`. Paths without secrets
(`/admin/day/12/row/`, `/static/…`) stay as they are. The client's address is cut to its
network (`clientaddress.for_log`: IPv4 /24, IPv6 /48).

The same rules are in deploy/nginx-site.conf's `map` blocks (nginx cannot call Python);
tests/deploy/test_access_log.py runs nginx and checks that both give the same lines. A new
route with a secret in its path goes in SECRET_SEGMENTS *and* in that map: a test
(tests/portal/test_logprivacy.py) fails for every route with a string parameter not listed
here or in PUBLIC_PARAMETERS.

Used by Daphne's access log (portal/daphne_accesslog.py), Django's request and security
loggers (RedactPaths, on the console handler) and django-axes' log lines (axes_client).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from portal.clientaddress import for_log

MARK = "*"  # ASCII: nginx would escape anything else in its log

# (route prefix, number of secret segments after it). Anchored at the path's start.
SECRET_SEGMENTS: tuple[tuple[str, int], ...] = (
    ("/rdv/", 1),  # the citizen's management token (and /test/, /compte-rendu/ under it)
    ("/j/", 1),  # SMS short link code
    ("/r/", 1),  # the room's slug: an unguessable identifier, half of the way in
    ("/ws/rooms/", 1),  # the same slug, on the room's WebSocket
    ("/comptes/invitation/", 2),  # uid and one-time token
    ("/comptes/mot-de-passe/", 2),  # uid and one-time token (not /envoye/ or /termine/: one segment)
)
# Route parameters that are no secret (tests/portal/test_logprivacy.py walks the URL patterns).
PUBLIC_PARAMETERS = frozenset({
    "language", "digest",  # /jsi18n/<language>/<digest>.js
    "app_label", "object_id", "content_type_id", "id", "url",  # the admin's: models and primary keys
})

_RULES = tuple(
    (re.compile("^" + re.escape(prefix) + "/".join(["[^/]+"] * count)), prefix + "/".join([MARK] * count))
    for prefix, count in SECRET_SEGMENTS
)


def path(uri: str) -> str:
    """A request's target as a log line may show it: secret segments and the query string
    replaced by `*` (see the module's docstring)."""
    if not uri.startswith("/"):
        if "://" not in uri:
            return MARK  # `*` (OPTIONS), garbage
        uri = urlsplit(uri)._replace(scheme="", netloc="").geturl() or "/"  # absolute form
    target, _, query = uri.partition("?")
    target = target.partition("#")[0]
    for rule, replacement in _RULES:
        if rule.match(target):
            target = rule.sub(replacement, target, count=1)
            break
    return target + ("?" + MARK if query else "")


def request_line(line: str) -> str:
    """`GET /rdv/<token>/ HTTP/1.1` -> `GET /rdv/*/ HTTP/1.1` (words other than the target
    kept); anything that is not a request line is returned as `*`."""
    parts = line.split(" ")
    if len(parts) >= 2 and parts[0].isalpha():
        return " ".join([parts[0], path(parts[1]), *parts[2:]])
    return MARK


def client(host: str | None) -> str:
    """Daphne's `client` (`203.0.113.7:51234`, `2001:db8::1:51234`: address, colon, port) cut
    to its network."""
    if not host or ":" not in host:
        return for_log(host)
    return for_log(host.rsplit(":", 1)[0])


class RedactPaths(logging.Filter):
    """On the console handler: Django's request and security loggers put the request's path
    in their lines (`Not Found: /rdv/<token>/`, `Forbidden (CSRF …): /j/<code>`), the
    development server its request's path and client; those go through `path` and `client`.
    Records of other loggers pass untouched (our own lines name no path)."""

    LOGGERS = ("django.request", "django.security", "django.server", "django.channels.server")

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.LOGGERS):
            return True
        if isinstance(record.args, tuple):
            record.args = tuple(self._redact(arg) for arg in record.args)
        elif isinstance(record.args, dict) and "path" in record.args:  # `manage.py runserver` (Daphne's)
            record.args = {**record.args, "path": path(str(record.args["path"])),
                           "client": client(record.args.get("client"))}
        return True

    @staticmethod
    def _redact(arg: object) -> object:
        if not isinstance(arg, str):
            return arg
        if arg.startswith("/"):
            return path(arg)
        if " /" in arg and arg.split(" ", 1)[0].isalpha():  # a request line
            return request_line(arg)
        return arg


def axes_client(username: str | None, ip_address: str | None, user_agent: str | None, path_info: object,
                request: object) -> str:
    """AXES_CLIENT_STR_CALLABLE: what django-axes writes in its log lines about a sign-in
    attempt. The user name (an agent's account, needed to see who is under attack), the
    address's network, the path; never the user agent (the lockouts do not use it)."""
    if isinstance(path_info, tuple | list):
        path_info = path_info[0] if path_info else ""
    shown = f"{{username: {username!r}, ip_address: {for_log(ip_address)!r}"
    return shown + (f", path_info: {path(path_info)!r}}}" if isinstance(path_info, str) and path_info else "}")
