"""WebSocket routes of the rooms (signalling)."""

from django.urls import path

from rooms.consumers import RoomConsumer

websocket_urlpatterns = [
    # Channels routes ASGI apps with Django's path(); django-stubs types path() for views only.
    path("ws/rooms/<str:slug>/", RoomConsumer.as_asgi()),  # type: ignore[arg-type]
]
