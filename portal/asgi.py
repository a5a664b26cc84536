"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# Django must be set up before anything imports models (consumers do).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from portal import routing as portal_routing  # noqa: E402
from portal.accounts.middleware import verified_user  # noqa: E402
from rooms import admission  # noqa: E402
from rooms import routing as rooms_routing  # noqa: E402
from rooms.phone import routing as phone_routing  # noqa: E402

# Each app declares its own routes: the portal's day view, the rooms' signalling.
websocket_urlpatterns = rooms_routing.websocket_urlpatterns + portal_routing.websocket_urlpatterns

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The routes are path() patterns of ASGI apps, which types-channels cannot tell from views'.
        # Admission control first: a refused handshake costs no database call; the session and
        # user are read in the thread pool, not in one thread for all (rooms/admission.py).
        # Twilio's Media Streams have no Origin and no session: their own route (token in `start`).
        "websocket": admission.gate(phone_routing.split(
            URLRouter(phone_routing.websocket_urlpatterns),  # type: ignore[arg-type]
            AllowedHostsOriginValidator(
                # The second factor's rule holds for sockets as for pages.
                admission.auth_stack(URLRouter(websocket_urlpatterns), vet=verified_user)  # type: ignore[arg-type]
            ))),
    }
)
