"""A person's open sessions: recorded at sign-in, listed, closed one by one or all at once.

Closing a session deletes it from Django's session store (the next request is signed out)
and closes, through the channel layer, the WebSockets opened with it: the day view
(`portal/consumers.py`) and room sockets (`rooms/consumers.py`) join `session_group`
and `user_group` (rooms/groups.py) and close on `account.closed`.
"""

from __future__ import annotations

import datetime as dt
import logging
from importlib import import_module

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from portal import clientaddress
from portal.models import UserSession
from rooms.groups import ACCOUNT_CLOSED, channel_layer, session_group, user_group

log = logging.getLogger("portal.accounts")
TOUCH_EVERY = dt.timedelta(minutes=5)  # last_seen is refreshed at most this often (one UPDATE)
SEEN = "gv_seen"  # when this session last refreshed its row (in the session: no query per request)


def _store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def record(request: HttpRequest, user) -> None:
    """After a complete sign-in (the session key is the new one)."""
    request.session[SEEN] = timezone.now().timestamp()
    key = request.session.session_key
    if key is None:
        request.session.save()
        key = request.session.session_key
    UserSession.objects.update_or_create(session_key=key, defaults={
        "user": user, "user_agent": request.headers.get("User-Agent", "")[:300],
        "address": clientaddress.from_request(request)[:64], "last_seen": timezone.now()})


def touch(request: HttpRequest) -> None:
    """Refresh the session's row now and then (only sessions made by `record` have one)."""
    seen, now = request.session.get(SEEN), timezone.now()
    if seen is not None and now.timestamp() - seen > TOUCH_EVERY.total_seconds():
        UserSession.objects.filter(session_key=request.session.session_key).update(last_seen=now)
        request.session[SEEN] = now.timestamp()


def forget(session_key: str | None) -> None:
    """Signed out normally: nothing left to list."""
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


def open_sessions(user) -> list[UserSession]:
    """The person's sessions still in the store (expired ones are dropped from the list)."""
    rows = list(UserSession.objects.filter(user=user))
    store = _store()
    alive = [row for row in rows if store().exists(row.session_key)]
    gone = [row.pk for row in rows if row not in alive]
    if gone:
        UserSession.objects.filter(pk__in=gone).delete()
    return alive


def close(user, session_pk: int) -> bool:
    """Close one of the person's own sessions; False if there is no such session of theirs."""
    row = UserSession.objects.filter(user=user, pk=session_pk).first()
    if row is None:
        return False
    _end([row.session_key])
    UserSession.objects.filter(pk=row.pk).delete()
    transaction.on_commit(lambda: _tell(session_group(row.session_key)))
    return True


def end_all(user, reason: str) -> int:
    """End every session of the person now (deactivation): the store's rows, and their sockets."""
    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    _end(keys)
    UserSession.objects.filter(user=user).delete()
    log.info("ended %d session(s) of user %s: %s", len(keys), user.pk, reason)
    transaction.on_commit(lambda: _tell(user_group(user.pk)))
    return len(keys)


def _end(keys: list[str]) -> None:
    store = _store()
    for key in keys:
        store(session_key=key).delete()


def _tell(group: str) -> None:
    try:
        async_to_sync(channel_layer().group_send)(group, {"type": ACCOUNT_CLOSED})
    except Exception:  # the sessions are gone anyway: a socket that missed this is refused at its next connect
        log.exception("could not tell %s's sockets to close", group)
