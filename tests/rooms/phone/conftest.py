"""Phone fixtures: a structure with a voice number, Twilio's caller, the Media Stream client."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode, urlsplit

import pytest
from channels.testing import WebsocketCommunicator

from rooms.phone.routing import PREFIX
from tests.notifications.servers import AUTH_TOKEN
from tests.notifications.voice import FakeTwilioVoice, MediaSession

NUMBER = "+33180000000"


@pytest.fixture
def voice(settings, structure_a):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    structure_a.voice_number = NUMBER
    structure_a.save()
    return settings


@pytest.fixture
def twilio(client, voice) -> FakeTwilioVoice:
    def post(url: str, form: dict[str, str], signature: str) -> tuple[int, str]:
        response = client.post(urlsplit(url).path, urlencode(form), content_type="application/x-www-form-urlencoded",
                               headers={"X-Twilio-Signature": signature})
        return response.status_code, response.content.decode()

    return FakeTwilioVoice(post=post, voice_url=voice.PHONE_VOICE_URL)


class Stream:
    """The Media Stream as Twilio opens it, on the real ASGI application."""

    def __init__(self, call_sid: str) -> None:
        from portal.asgi import application

        # No Origin, no cookie: Twilio sends neither.
        self.ws = WebsocketCommunicator(application, PREFIX + "stream/", headers=[(b"host", b"testserver")])
        self.session = MediaSession(send=self._send, call_sid=call_sid)
        self.closed_code: int | None = None

    async def _send(self, text: str) -> None:
        await self.ws.send_to(text_data=text)

    async def open(self) -> Stream:
        connected, _ = await self.ws.connect(timeout=5)
        assert connected
        await self.session.connected()
        return self

    async def pump(self, timeout: float = 0.2) -> list[dict]:
        """What the server sent within `timeout` (media kept by the session); [] once closed."""
        got: list[dict] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.closed_code is None and loop.time() < deadline:  # audio flows every 20 ms: bounded
            # receive_output's timeout would cancel the application: wait without it first.
            if await self.ws.receive_nothing(timeout=timeout, interval=0.01):
                break
            output = await self.ws.receive_output(timeout=5)
            if output["type"] == "websocket.close":
                self.closed_code = output.get("code", 1000)
                break
            await self.session.heard(output["text"])
            got.append(json.loads(output["text"]))
        return got

    async def until(self, predicate, timeout: float = 10) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            assert loop.time() < deadline, "the stream never got there"
            await self.pump(0.05)

    async def closed(self, timeout: float = 5) -> int:
        await self.until(lambda: self.closed_code is not None, timeout)
        assert self.closed_code is not None
        return self.closed_code

    async def close(self) -> None:
        await self.ws.disconnect()
