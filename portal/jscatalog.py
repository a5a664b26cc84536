"""The JavaScript translation catalog, served like a static file (issue 21, item 1).

Django's `JavaScriptCatalog` view renders the catalog on every request (13–138 ms of server
time measured on the citizen's path) and lets browsers cache nothing. Here each language's
catalog is rendered once per process and served at a URL that names the language and a
digest of the catalog's content, `/jsi18n/<lang>/<digest>.js`, with a one-year `immutable`
cache: a browser asks once; a changed translation gives a new digest, hence a new URL.
"""

from __future__ import annotations

import functools
import hashlib

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.urls import reverse
from django.utils import translation
from django.views.decorators.http import require_safe
from django.views.i18n import JavaScriptCatalog

YEAR = 365 * 24 * 3600


def languages() -> set[str]:
    return {code for code, _name in settings.LANGUAGES}


@functools.lru_cache(maxsize=16)
def rendered(language: str) -> tuple[str, bytes]:
    """(digest, body) of `language`'s catalog, rendered once."""
    if language not in languages():
        raise Http404("no such language")
    request = HttpRequest()  # the view reads nothing of it but the method
    request.method = "GET"
    with translation.override(language):
        # Our strings only (LOCALE_PATHS, always read): not the admin's, which the citizen's
        # pages never use (a third of the catalog's weight).
        response = JavaScriptCatalog.as_view(packages=["rooms", "portal"])(request)
    assert isinstance(response, HttpResponse)  # rendered in full, not streamed
    body = response.content
    return hashlib.sha256(body).hexdigest()[:16], body


def catalog_url(language: str | None = None) -> str:
    language = language if language in languages() else settings.LANGUAGE_CODE
    digest, _body = rendered(language)
    return reverse("javascript-catalog-static", args=[language, digest])


@require_safe
def catalog(request: HttpRequest, language: str, digest: str) -> HttpResponse:
    if language not in languages():
        raise Http404("no such language")
    current, body = rendered(language)
    if digest != current:  # an old page after a deployment: the current catalog, not a 404
        return HttpResponsePermanentRedirect(reverse("javascript-catalog-static", args=[language, current]))
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    return response
