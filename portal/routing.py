"""WebSocket routes of the portal (the agents' live day view)."""

from django.urls import path

from portal.consumers import DayConsumer

websocket_urlpatterns = [
    path("ws/day/", DayConsumer.as_asgi()),
]
