"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# Django must be set up before anything imports models (consumers do).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import CookieMiddleware  # noqa: E402
from django.urls import URLPattern  # noqa: E402

from portal import daphne_accesslog  # noqa: E402
from portal import routing as portal_routing  # noqa: E402
from portal.accounts.middleware import verified_user  # noqa: E402
from portal.daphne_tuning import (  # noqa: E402
    defer_autobahn_debug_formatting,
    freeze_start_up_objects,
    shorten_gil_switch_interval,
)
from rooms import admission  # noqa: E402
from rooms import routing as rooms_routing  # noqa: E402
from rooms.phone import routing as phone_routing  # noqa: E402

defer_autobahn_debug_formatting()  # a debug line formatted at every connection, written or not
shorten_gil_switch_interval(settings.ASGI_SWITCH_INTERVAL)  # the event loop waits less for the GIL
daphne_accesslog.install()  # its access lines without tokens nor client addresses (portal/logprivacy.py)

# Each app declares its own routes: the portal's day view, the rooms' signalling. The day
# view reads the signed-in user (session and user, in the thread pool: rooms/admission.py);
# a room socket only reads its session's participant, in its own first database call
# (rooms/handshake.py), so it gets the cookies and nothing read before.
websocket_urlpatterns = [
    *[URLPattern(route.pattern, CookieMiddleware(route.callback), name=route.name)
      for route in rooms_routing.websocket_urlpatterns],
    *[URLPattern(route.pattern, admission.auth_stack(route.callback, vet=verified_user), name=route.name)
      for route in portal_routing.websocket_urlpatterns],
]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The routes are path() patterns of ASGI apps, which types-channels cannot tell from views'.
        # Admission control first: a refused handshake costs no database call.
        # Twilio's Media Streams have no Origin and no session: their own route (token in `start`).
        "websocket": admission.gate(phone_routing.split(
            URLRouter(phone_routing.websocket_urlpatterns),  # type: ignore[arg-type]
            AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),  # type: ignore[arg-type]
        )),
    }
)
# Last: what start-up loaded is frozen out of the collector's passes (portal/daphne_tuning.py).
freeze_start_up_objects()
