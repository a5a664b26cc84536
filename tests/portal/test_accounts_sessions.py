"""Open sessions: each person sees and closes theirs; a manager deactivates a member at
once, and the member's pages and sockets (day view, rooms) end."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from portal.accounts import members, sessions
from portal.models import Membership, UserSession
from rooms import presence
from tests import factories
from tests.portal.accounts_steps import SECOND, password_step
from tests.rooms.conftest import Client, run


def signed_in_browser(user, agent: str) -> HttpClient:
    """A browser that went through both steps (its session is recorded, as a real sign-in's)."""
    factories.totp_device(user)
    browser = HttpClient(HTTP_USER_AGENT=agent)
    password_step(browser, user.username)
    assert browser.post(SECOND, {"code": factories.next_totp_code(user)}).status_code == 302
    return browser


def cookie_of(browser: HttpClient) -> bytes:
    return f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def day_socket(cookie: bytes) -> WebsocketCommunicator:
    from portal.asgi import application

    day = WebsocketCommunicator(application, "/ws/day/", headers=[
        (b"origin", b"http://testserver"), (b"host", b"testserver"), (b"cookie", cookie)])
    connected, _ = await day.connect(timeout=5)
    assert connected
    return day


async def day_closed_with(day: WebsocketCommunicator) -> int:
    """The day view's close code; before it, only the day's own news (rows changing)."""
    while True:
        output = await day.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return output["code"]
        assert '"day.changed"' in output["text"], output


@pytest.mark.django_db
def test_a_person_sees_their_sessions_and_closes_another_one(alice, bob):
    office = signed_in_browser(alice, "Firefox au bureau")
    home = signed_in_browser(alice, "Chromium a la maison")
    signed_in_browser(bob, "Bob's")
    page = office.get(reverse("accounts:security")).content.decode()
    assert "Firefox au bureau" in page and "Chromium a la maison" in page and "Bob" not in page
    home_session = UserSession.objects.get(user=alice, user_agent="Chromium a la maison")
    theirs = UserSession.objects.get(user=bob)

    # Someone else's session: not closed, whatever its id.
    office.post(reverse("accounts:close_session", args=[theirs.pk]))
    assert UserSession.objects.filter(pk=theirs.pk).exists()

    office.post(reverse("accounts:close_session", args=[home_session.pk]))
    assert home.get("/admin/day/").status_code == 302  # signed out there
    assert office.get("/admin/day/").status_code == 200  # not here
    assert [s.user_agent for s in sessions.open_sessions(alice)] == ["Firefox au bureau"]
    office.post("/admin/logout/")
    assert not UserSession.objects.filter(user=alice).exists()  # signing out leaves the list


@pytest.mark.django_db(transaction=True)
def test_closing_a_session_closes_its_day_view_socket(alice):
    office, home = signed_in_browser(alice, "office"), signed_in_browser(alice, "home")
    home_session = UserSession.objects.get(user=alice, user_agent="home")

    async def scenario():
        from asgiref.sync import sync_to_async

        mine, other = await day_socket(cookie_of(office)), await day_socket(cookie_of(home))
        await sync_to_async(office.post)(reverse("accounts:close_session", args=[home_session.pk]))
        assert await day_closed_with(other) == 4401
        assert await mine.receive_nothing(timeout=0.3)  # the office's own socket stays
        await mine.disconnect()

    run(scenario())


@pytest.mark.django_db(transaction=True)
def test_a_deactivated_member_is_signed_out_everywhere_at_once(client_of, structure_a, alice, maude):
    appointment = factories.appointment(structure_a, alice, start=timezone.now() + timezone.timedelta(minutes=5))
    room = appointment.room
    browser = signed_in_browser(alice, "alice's browser")
    moderator = presence.enter_as_member(room, alice, moderator=True)
    guest = presence.enter_as_guest(room, "Jeanne Dupont")
    manager = client_of(maude)
    membership = Membership.objects.get(user=alice)

    async def scenario():
        from asgiref.sync import sync_to_async

        day = await day_socket(cookie_of(browser))
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        citizen = await Client(room.slug, guest.pid).connect()
        await citizen.greeted()
        await agent.expect("lobby.waiting")
        answer = await sync_to_async(manager.post)(reverse("admin:portal_membership_changelist"), {
            "action": "deactivate_members", "_selected_action": [membership.pk]})
        assert answer.status_code == 302
        assert await day_closed_with(day) == 4401
        assert await agent.closed_with(ignore=("day.changed", "participant.updated")) == 4401
        # The citizen's socket is not the member's: it stays.
        await citizen.quiet()
        await citizen.close()

    run(scenario())
    assert browser.get("/admin/day/").status_code == 302  # signed out
    membership.refresh_from_db()
    alice.refresh_from_db()
    assert not membership.active and not alice.is_active  # no other structure: the account is off
    assert password_step(HttpClient(), "alice").status_code == 200  # cannot sign in again
    assert not UserSession.objects.filter(user=alice).exists()
    members_list = manager.get(reverse("admin:portal_membership_changelist")).content.decode()
    assert 'data-account-state="deactivated"' in members_list

    members.reactivate(membership)
    alice.refresh_from_db()
    assert alice.is_active and password_step(HttpClient(), "alice").status_code == 302


@pytest.mark.django_db
def test_a_member_of_two_structures_keeps_the_other_one(client_of, structure_a, structure_b, alice, maude):
    Membership.objects.create(user=alice, structure=structure_b, role="agent")
    members.deactivate(Membership.objects.get(user=alice, structure=structure_a), by=maude)
    alice.refresh_from_db()
    assert alice.is_active
    from portal import access

    fresh = type(alice).objects.get(pk=alice.pk)
    assert access.structure_ids(fresh) == {structure_b.pk}


@pytest.mark.django_db
def test_a_manager_cannot_deactivate_themselves_or_another_structures_member(client_of, maude, bob):
    manager = client_of(maude)
    mine = Membership.objects.get(user=maude)
    theirs = Membership.objects.get(user=bob)
    for membership in (mine, theirs):
        manager.post(reverse("admin:portal_membership_changelist"), {
            "action": "deactivate_members", "_selected_action": [membership.pk]})
    assert Membership.objects.filter(active=True, pk__in=[mine.pk, theirs.pk]).count() == 2
    with pytest.raises(ValueError):
        members.deactivate(mine, by=maude)
