"""The accessibility statement and the personal-data notice (issue 21, items 5 and 6): what
they say, their contacts, and the link to them from every citizen page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from portal import citizen, legal
from tests import factories

FOOTER_LINKS = ('href="/accessibilite/"', 'href="/donnees-personnelles/"')


@pytest.fixture
def soon(structure_a, alice):
    return factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(minutes=5))


def test_accessibility_statement_follows_the_rgaa_model(client, db, settings):
    settings.ACCESSIBILITY_CONTACT = "accessibilite@mairie.example.fr"
    page = client.get("/accessibilite/", HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 200
    text = page.content.decode()
    for part in ("Déclaration d’accessibilité", "État de conformité", "partielle", "RGAA", "4.1",
                 "Non-conformités", "Dérogations pour charge disproportionnée",
                 "Contenus non soumis", "Retour d’information et contact", "Voies de recours",
                 "Défenseur des droits", "Libre réponse 71120", "formulaire.defenseurdesdroits.fr"):
        assert part in text, part
    assert 'href="mailto:accessibilite@mairie.example.fr"' in text


def test_personal_data_notice_says_what_is_kept_how_long_and_whom_to_ask(client, structure_a, settings):
    settings.PRIVACY_CONTACT = "https://mairie.example.fr/dpo"
    settings.RETENTION_ADDRESS_DAYS = 3
    structure_a.retention_days = 30
    structure_a.save()
    text = client.get("/donnees-personnelles/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    for part in ("Responsable du traitement", "Ce qui est conservé", "Ce qui n’est jamais conservé",
                 "effacé 30 jours après", "(IP) est conservée 3 jours au plus", "Vos droits", "CNIL",
                 "4 derniers caractères", 'href="https://mairie.example.fr/dpo"'):
        assert part in text, part


def test_without_contacts_the_pages_send_citizens_to_their_structure(client, db):
    for url in ("/accessibilite/", "/donnees-personnelles/"):
        text = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
        assert "la structure qui vous a donné le rendez-vous" in text
        assert "mailto:" not in text


def test_every_citizen_page_links_to_both(client, soon):
    pages = {
        "join": f"/r/{soon.room.slug}/",
        "cancel or move": citizen.manage_url(soon).split("://", 1)[1].split("/", 1)[1],
        "device test": citizen.test_url(soon).split("://", 1)[1].split("/", 1)[1],
        "statement": "/accessibilite/",
        "notice": "/donnees-personnelles/",
    }
    for name, path in pages.items():
        text = client.get("/" + path.lstrip("/")).content.decode()
        for link in FOOTER_LINKS:
            assert link in text, (name, link)


def test_the_call_page_links_to_both_and_the_id_check_says_what_it_reads_and_keeps(client, soon):
    client.post(f"/r/{soon.room.slug}/", {"name": "Jeanne", "password": soon.room.password})
    text = client.get(f"/r/{soon.room.slug}/room/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    for link in FOOTER_LINKS:
        assert text.count(link) >= 2  # the footer (waiting room) and the call's settings panel
    data = re.search(r'id="gv-idcheck-data">(.*?)</p>', text, re.S)
    assert data and "Ce qui est lu" in data.group(1) and "Ce qui est conservé" in data.group(1)


def test_bad_contacts_are_refused_with_the_setting_named(client, db, settings):
    settings.ACCESSIBILITY_CONTACT = "not an address"
    with pytest.raises(ImproperlyConfigured, match="ACCESSIBILITY_CONTACT"):
        client.get("/accessibilite/")
    settings.ACCESSIBILITY_CONTACT = ""
    settings.ACCESSIBILITY_AUDIT_DATE = "yesterday"
    with pytest.raises(ImproperlyConfigured, match="ACCESSIBILITY_AUDIT_DATE"):
        client.get("/accessibilite/")


@given(st.text(max_size=200))
def test_contact_is_a_link_or_a_clear_error_for_any_text(value):
    try:
        found = legal.contact(value, "PRIVACY_CONTACT")
    except ImproperlyConfigured as error:
        assert "PRIVACY_CONTACT" in str(error)
        return
    if found is None:
        assert not value.strip()
    else:
        assert found.href.startswith(("mailto:", "https://"))
        assert "<" not in found.href and '"' not in found.href


@given(st.emails())
def test_any_email_address_becomes_a_mailto_link(address):
    found = legal.contact(address, "ACCESSIBILITY_CONTACT")
    assert found is not None and found.href == f"mailto:{address}" and found.text == address
