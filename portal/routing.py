"""WebSocket routes of the portal (the agents' live day view)."""

from django.urls import path

from portal.consumers import DayConsumer

websocket_urlpatterns = [
    # Channels routes ASGI apps with Django's path(); django-stubs types path() for views only.
    path("ws/day/", DayConsumer.as_asgi()),  # type: ignore[arg-type]
]
