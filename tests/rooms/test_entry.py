"""One entry decision (rooms/entry.py): its rules over every combination, then each way in
(the join page's code, the personal link, the members' page, the WebSocket) through it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from portal.models import Role as MemberRole
from portal.models import Status as AppointmentStatus
from rooms import entry, presence, tokens
from rooms.entry import Decision, Refusal, Situation, Via, decide
from rooms.lobby import FINAL, TRANSITIONS, Role, Status
from rooms.models import Participant
from rooms.protocol import CloseCode
from rooms.window import Phase
from tests import factories
from tests.rooms.conftest import Client, run

situations = st.builds(
    Situation,
    via=st.sampled_from(Via),
    role=st.sampled_from(Role),
    current=st.none() | st.sampled_from(Status),
    phase=st.sampled_from(Phase),
    locked=st.booleans(),
)


# --- the rules, over role × status × lock × window × ended ---
@given(situations)
def test_a_decision_is_either_a_refusal_or_a_place(s: Situation):
    d = decide(s)
    assert (d.refusal is None) == (d.status is not None)
    assert d.role is s.role  # the role is the caller's fact, never changed by the rules
    assert d.allowed == (d.close_code is None)


@given(situations)
def test_nobody_enters_a_cancelled_or_ended_meeting(s: Situation):
    if s.phase in (Phase.CANCELLED, Phase.ENDED):
        assert not decide(s).allowed


@given(situations)
def test_refused_or_removed_is_final(s: Situation):
    if s.current in FINAL:
        assert not decide(s).allowed


@given(situations)
def test_the_socket_needs_a_participant(s: Situation):
    d = decide(s)
    if s.via is Via.SOCKET and s.current is None:
        assert d.refusal is Refusal.NO_SESSION and d.close_code == CloseCode.NO_SESSION
    if d.refusal is Refusal.NO_SESSION:
        assert s.via is Via.SOCKET


@given(situations)
def test_only_moderators_enter_the_call_directly(s: Situation):
    d = decide(s)
    if d.allowed and s.current in (None, Status.LEFT):
        assert d.status is (Status.ADMITTED if s.role is Role.MODERATOR else Status.WAITING)


@given(situations)
def test_third_parties_never_skip_the_waiting_room(s: Situation):
    d = decide(s)
    if s.role in (Role.HELPDESK, Role.AGENT, Role.INTERPRETER) and d.status is Status.ADMITTED:
        assert s.current is Status.ADMITTED  # only the agent's admission put them there


@given(situations)
def test_someone_present_stays_where_they_are(s: Situation):
    d = decide(s)
    if d.allowed and s.current in (Status.WAITING, Status.ADMITTED) and s.role is not Role.MODERATOR:
        assert d.status is s.current


@given(situations)
def test_every_landing_is_a_lobby_transition(s: Situation):
    d = decide(s)
    if d.allowed and s.current is not None and d.status is not s.current:
        assert d.status in TRANSITIONS[s.current]


@given(situations)
def test_outsiders_come_in_only_while_the_window_is_open(s: Situation):
    d = decide(s)
    if s.role in entry.OUTSIDERS and s.current in (None, Status.LEFT) and d.allowed:
        assert s.phase is Phase.OPEN
    if s.role in entry.STAFF_ROLES and s.phase in (Phase.TOO_EARLY, Phase.OVER):
        assert d.refusal not in (Refusal.TOO_EARLY, Refusal.OVER)


@given(situations)
def test_a_locked_room_takes_nobody_new_but_the_citizen_and_the_agents(s: Situation):
    d = decide(s)
    if d.refusal is Refusal.LOCKED:
        assert s.locked and s.current is None and s.role is not Role.MODERATOR and s.via is not Via.LINK
    if s.locked and s.current is None and s.via in (Via.CODE, Via.MEMBER) and s.role is not Role.MODERATOR:
        assert not d.allowed


def test_examples():
    def place(**kw) -> Decision:
        base = {"via": Via.CODE, "role": Role.GUEST, "current": None, "phase": Phase.OPEN, "locked": False}
        return decide(Situation(**{**base, **kw}))

    assert place().status is Status.WAITING
    assert place(via=Via.MEMBER, role=Role.HELPDESK).status is Status.WAITING
    assert place(via=Via.MEMBER, role=Role.MODERATOR, phase=Phase.TOO_EARLY).status is Status.ADMITTED
    assert place(phase=Phase.TOO_EARLY).refusal is Refusal.TOO_EARLY
    assert place(locked=True).refusal is Refusal.LOCKED
    assert place(via=Via.LINK, locked=True).status is Status.WAITING
    assert place(via=Via.SOCKET, current=Status.ADMITTED, phase=Phase.OVER).status is Status.ADMITTED
    assert place(via=Via.SOCKET, current=Status.LEFT, phase=Phase.OVER).refusal is Refusal.OVER
    assert place(via=Via.SOCKET, current=Status.REMOVED).close_code == CloseCode.REFUSED
    assert place(via=Via.SOCKET, current=Status.WAITING, phase=Phase.ENDED).close_code == CloseCode.ENDED


# --- each way in goes through it ---


@pytest.mark.django_db
def test_code_a_locked_room_refuses_and_an_interpreter_is_shown_as_such(client, room):
    room.locked = True
    room.save()
    page = client.post(f"/r/{room.slug}/", {"name": "Ana Lopes", "password": room.password}).content.decode()
    assert "personne d’autre ne peut entrer" in page and not Participant.objects.exists()
    room.locked = False
    room.save()
    response = client.post(f"/r/{room.slug}/", {"name": "Ana Lopes", "password": room.password, "interpreter": "on"})
    assert response.status_code == 302
    ana = Participant.objects.get()
    assert (ana.role, ana.status) == (Role.INTERPRETER, Status.WAITING)


@pytest.mark.django_db
def test_link_reaches_the_waiting_room_of_a_locked_room_but_not_after_a_refusal(client, room):
    room.locked = True
    room.save()
    assert client.post(f"/r/{room.slug}/", {"t": tokens.make(room)}).status_code == 302
    citizen = Participant.objects.get()
    assert (citizen.role, citizen.status) == (Role.GUEST, Status.WAITING)
    presence.move(room, str(citizen.pid), Status.REFUSED)
    page = client.get(f"/r/{room.slug}/?t={tokens.make(room)}").content.decode()
    assert "Ce lien personnel ne peut pas être utilisé ici" in page


@pytest.mark.django_db
@pytest.mark.parametrize("who, role, status", [
    ("alice", Role.MODERATOR, Status.ADMITTED),  # the appointment's agent
    ("maude", Role.MODERATOR, Status.ADMITTED),  # a manager of the structure
    ("colleague", Role.AGENT, Status.WAITING),  # another agent: a third party
    ("hugo", Role.HELPDESK, Status.WAITING),  # the helpdesk: a third party
])
def test_members_enter_with_their_role(client_of, room, alice, maude, hugo, structure_a, who, role, status):
    users = {"alice": alice, "maude": maude, "hugo": hugo,
             "colleague": factories.member(structure_a, MemberRole.AGENT, username="carl")}
    response = client_of(users[who]).get(f"/r/{room.slug}/agent/")
    assert response.status_code == 302 and response["Location"] == f"/r/{room.slug}/room/"
    mine = Participant.objects.get(user=users[who])
    assert (mine.role, mine.status) == (role, status)


@pytest.mark.django_db
def test_a_locked_room_keeps_new_third_parties_out_not_the_agent(client_of, room, alice, hugo):
    room.locked = True
    room.save()
    response = client_of(hugo).get(f"/r/{room.slug}/agent/")
    assert response.status_code == 403 and "personne d’autre ne peut entrer" in response.content.decode()
    assert not Participant.objects.filter(user=hugo).exists()
    assert client_of(alice).get(f"/r/{room.slug}/agent/").status_code == 302


@pytest.mark.django_db
def test_a_refused_helpdesk_member_cannot_come_back_by_the_members_page(client_of, room, hugo):
    client_of(hugo).get(f"/r/{room.slug}/agent/")
    presence.move(room, str(Participant.objects.get(user=hugo).pid), Status.REFUSED)
    response = client_of(hugo).get(f"/r/{room.slug}/agent/")
    assert response.status_code == 403 and 'id="gv-entry-refused"' in response.content.decode()


@pytest.mark.django_db
def test_members_of_a_cancelled_appointment_get_the_gone_page(client_of, room, hugo):
    room.appointment.status = AppointmentStatus.CANCELLED
    room.appointment.save()
    assert client_of(hugo).get(f"/r/{room.slug}/agent/").status_code == 410


@pytest.mark.django_db(transaction=True)
def test_socket_a_guest_who_left_cannot_come_back_after_the_window_one_in_the_call_stays(room, moderator):
    inside = presence.enter_as_guest(room, "Jeanne Dupont")
    presence.move(room, str(inside.pid), Status.ADMITTED)
    gone = presence.enter_as_guest(room, "Paul Dupont")
    presence.move(room, str(gone.pid), Status.LEFT)
    appointment = room.appointment
    # The call overran: the window closed (ROOM_CLOSES_MINUTES_AFTER after the end) during it.
    appointment.start = timezone.now() - dt.timedelta(hours=3)
    appointment.save()

    async def scenario():
        paul = await Client(room.slug, gone.pid).connect()
        assert await paul.closed_with() == CloseCode.ENDED
        jeanne = await Client(room.slug, inside.pid).connect()
        assert (await jeanne.greeted())["you"]["status"] == "admitted"
        await jeanne.close()

    run(scenario())
    assert Participant.objects.get(pk=gone.pk).status == Status.LEFT


@pytest.mark.django_db(transaction=True)
def test_socket_the_helpdesk_waits_and_the_agent_sees_its_role(client_of, room, moderator, hugo):
    client_of(hugo).get(f"/r/{room.slug}/agent/")
    helpdesk = Participant.objects.get(user=hugo)

    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        hugo_socket = await Client(room.slug, helpdesk.pid).connect()
        state = await hugo_socket.greeted()
        assert state["you"]["status"] == "waiting" and state["participants"] == []
        waiting = await agent.expect("lobby.waiting")
        assert waiting["participant"]["role"] == "helpdesk"
        await hugo_socket.send({"type": "chat.send", "text": "bonjour"})
        assert (await hugo_socket.expect("error"))["code"] == "not_admitted"
        await agent.close()
        await hugo_socket.close()

    run(scenario())


@pytest.mark.django_db(transaction=True)
def test_socket_of_a_cancelled_appointment_is_closed_as_ended(room, citizen):
    room.appointment.status = AppointmentStatus.CANCELLED
    room.appointment.save()

    async def scenario():
        socket = await Client(room.slug, citizen.pid).connect()
        assert await socket.closed_with() == CloseCode.ENDED

    run(scenario())


@pytest.mark.django_db
def test_the_appointments_agent_no_longer_of_the_structure_cannot_enter(client_of, room, alice):
    alice.memberships.all().delete()
    assert client_of(alice).get(f"/r/{room.slug}/agent/").status_code == 404
    assert not Participant.objects.exists()
