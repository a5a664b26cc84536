"""The Media Stream's WebSocket route. Outside the browsers' stack on purpose: Twilio sends
no Origin and no session cookie; the stream's token is its only credential."""

from django.urls import path

from rooms.phone.consumers import PhoneStreamConsumer

PREFIX = "/ws/phone/"
websocket_urlpatterns = [
    path("ws/phone/stream/", PhoneStreamConsumer.as_asgi()),  # type: ignore[arg-type]
]


def split(phone_app, web_app):
    """ASGI: the Media Stream's path to `phone_app`, every other socket to `web_app`."""

    async def app(scope, receive, send) -> None:
        inner = phone_app if scope.get("path", "").startswith(PREFIX) else web_app
        await inner(scope, receive, send)

    return app
