"""WebSocket routes of the rooms (signalling)."""

websocket_urlpatterns: list = []
