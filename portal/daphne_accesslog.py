"""Daphne's access log without secrets or client addresses.

At verbosity 1 (deploy/Procfile's) Daphne writes an NCSA line per request and per WebSocket
event to stdout, i.e. to the journal, with the client's address and the full target:
`/rdv/<token>/`, `/r/<slug>/?t=<token>`. Its lines all go through one method,
`AccessLogGenerator.write_entry(host, date, request, ...)`; replacing it on the class (from
portal/asgi.py, which Daphne imports before it makes its logger) makes every line go through
portal/logprivacy.py, whatever Daphne's options (`--access-log FILE` included), with the
same format otherwise: tests/e2e/test_stack.py still finds `"GET /admin/` lines.

If a Daphne upgrade drops that method, `install` raises and Daphne does not start: better
than a log that quietly gets the tokens again (tests/production/test_access_log.py runs the
Procfile's `daphne` command).
"""

from __future__ import annotations

from typing import Any

from portal import logprivacy


def install() -> None:
    from daphne.access import AccessLogGenerator  # type: ignore[import-untyped]

    original = AccessLogGenerator.write_entry
    if getattr(original, "redacted", False):
        return

    def write_entry(self: Any, host: str | None, date: Any, request: str, status: Any = None, length: Any = None,
                    ident: Any = None, user: Any = None) -> None:
        # `request` is "METHOD target" (HTTP) or "WSCONNECT target" (WebSocket events).
        action, _, target = request.partition(" ")
        original(self, logprivacy.client(host), date, f"{action} {logprivacy.path(target)}", status, length,
                 ident, user)

    write_entry.redacted = True  # type: ignore[attr-defined]
    AccessLogGenerator.write_entry = write_entry
