"""The Twilio SDK's HTTP client as the portal configures it (SMS and telephone): requests to
TWILIO_API_BASE_URL when set (a local stand-in of Twilio's API), the timeout, and the
environment's proxies read once."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit
from urllib.request import getproxies

from django.conf import settings
from twilio.http.http_client import TwilioHttpClient


class BaseUrlHttpClient(TwilioHttpClient):
    """Sends the SDK's requests to `base_url` instead of https://*.twilio.com."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base = urlsplit(base_url)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(url)
        url = urlunsplit((self.base.scheme, self.base.netloc, parts.path, parts.query, parts.fragment))
        return super().request(method, url, *args, **kwargs)


def http_client() -> TwilioHttpClient:
    kwargs = {"timeout": settings.TWILIO_TIMEOUT_SECONDS}
    http = (BaseUrlHttpClient(settings.TWILIO_API_BASE_URL, **kwargs) if settings.TWILIO_API_BASE_URL
            else TwilioHttpClient(**kwargs))
    # Proxies from the environment, read once: with trust_env, requests re-reads the
    # environment (and ~/.netrc) on every call, a third of an SMS's CPU time.
    http.proxy = {k: v for k, v in getproxies().items() if k in ("http", "https")}
    if http.session is not None:
        http.session.trust_env = False
    return http
