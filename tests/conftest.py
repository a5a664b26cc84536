"""Shared personas: an agent of structure A, an agent of B, a manager, a helpdesk user."""

from __future__ import annotations

import pytest

from portal.models import Role
from tests import factories


@pytest.fixture
def structure_a(db):
    return factories.StructureFactory(name="Mairie A")


@pytest.fixture
def structure_b(db):
    return factories.StructureFactory(name="Mairie B", time_zone="America/Guadeloupe")


@pytest.fixture
def alice(structure_a):
    """Agent of structure A."""
    return factories.member(structure_a, Role.AGENT, username="alice", first_name="Alice", last_name="Agent")


@pytest.fixture
def bob(structure_b):
    """Agent of structure B."""
    return factories.member(structure_b, Role.AGENT, username="bob", first_name="Bob", last_name="Bagent")


@pytest.fixture
def maude(structure_a):
    """Manager of structure A."""
    return factories.member(structure_a, Role.MANAGER, username="maude", first_name="Maude", last_name="Manager")


@pytest.fixture
def hugo(structure_a):
    """Helpdesk of structure A."""
    return factories.member(structure_a, Role.HELPDESK, username="hugo", first_name="Hugo", last_name="Help")


@pytest.fixture
def client_of(client):
    def login(user):
        return factories.signed_in(client, user)  # both factors (tests/factories.py)

    return login


@pytest.fixture(autouse=True)
def fresh_layer_and_engine():
    """Each test runs its own event loop: start from a new channel layer and media engine."""
    from channels.layers import channel_layers

    import rooms.mediabridge

    channel_layers.backends.clear()
    rooms.mediabridge.reset()
    yield
    channel_layers.backends.clear()
    rooms.mediabridge.reset()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's, then before it drops the test database: end the sessions that
    pooled connections parked in finished event loops' sync threads still hold (they
    would keep the database from being dropped)."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                       " WHERE datname = current_database() AND pid <> pg_backend_pid()")
