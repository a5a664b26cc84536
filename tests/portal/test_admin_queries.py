"""The appointment list costs the same number of SQL queries whatever the number of rows."""

from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.models import Membership, Role
from tests import factories


def count_queries(client, url):
    reset_queries()  # each request resets the log: start empty so the captured slice is right
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_list_queries_do_not_grow_with_rows(client_of, alice, structure_a):
    colleague = factories.member(structure_a, Role.AGENT)
    client = client_of(alice)
    url = reverse("admin:portal_appointment_changelist") + "?day=all"
    for _ in range(3):
        factories.appointment(structure_a, alice)
    few = count_queries(client, url)
    for i in range(25):
        factories.appointment(structure_a, colleague if i % 2 else alice)
    many = count_queries(client, url)
    assert few == many
    assert Membership.objects.count() == 2
