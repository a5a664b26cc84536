"""The JavaScript catalog at a cacheable URL per language (portal/jscatalog.py)."""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.jscatalog import catalog_url
from tests import factories


def test_each_language_has_its_catalog_cached_for_a_year(client):
    fr, en = catalog_url("fr"), catalog_url("en")
    assert fr != en and fr.startswith("/jsi18n/fr/") and fr.endswith(".js")
    answer = client.get(fr)
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/javascript")
    assert "immutable" in answer["Cache-Control"] and "max-age=31536000" in answer["Cache-Control"]
    assert "Couper le micro" in answer.content.decode()  # French, whatever the browser asked
    assert "Couper le micro" not in client.get(en, HTTP_ACCEPT_LANGUAGE="fr").content.decode()


def test_an_old_digest_goes_to_the_current_catalog_and_unknown_languages_are_404(client):
    answer = client.get("/jsi18n/fr/0123456789abcdef.js")
    assert answer.status_code == 301 and answer["Location"] == catalog_url("fr")
    assert client.get("/jsi18n/xx/0123456789abcdef.js").status_code == 404


def test_the_join_page_uses_it_and_loads_one_module(client, structure_a, alice):
    room = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(minutes=5)).room
    page = client.get(f"/r/{room.slug}/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert f'src="{catalog_url("fr")}"' in page
    # The page's JavaScript is one bundle (bundle.mjs): no module graph to preload.
    assert re.findall(r'<script type="module" src="([^"]+)"', page) == ["/static/rooms/dist/prejoin.js"]
    assert 'rel="modulepreload"' not in page


@settings(max_examples=60)
@given(st.text(alphabet="abcdefxyz0123456789-_.", min_size=1, max_size=20),
       st.text(alphabet="abcdef0123456789xyz", min_size=1, max_size=20))
def test_any_path_is_a_catalog_a_redirect_or_not_found(language, digest):
    from django.test import Client

    status = Client().get(f"/jsi18n/{language}/{digest}.js").status_code
    assert status in (200, 301, 404)
