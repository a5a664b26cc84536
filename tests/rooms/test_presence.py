"""Presence leases (rooms/presence.py, rooms/leases.py) through the real consumer and the
database: "connexion perdue" at once, gone after the grace, back in place within it,
`leave` clears presence, the sweep repairs dead processes' sockets."""

from __future__ import annotations

import datetime as dt

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test import Client as HttpClient
from django.utils import timezone

from rooms import lobby, presence, tokens
from rooms.models import Participant
from tests import factories
from tests.rooms.conftest import Client, in_the_call, run, seated
from tests.rooms.test_take_over import _enter_by_link
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_grace(settings):
    """The heartbeat and the grace short enough for a test to wait them out."""
    settings.PRESENCE_HEARTBEAT_SECONDS = 0.2
    settings.PRESENCE_LEASE_SECONDS = 2
    settings.PRESENCE_GRACE_SECONDS = 1
    return settings


def test_leave_clears_presence(room, moderator, citizen):
    async def scenario():
        agent, guest = await in_the_call(room.slug, moderator.pid, citizen.pid)
        with guest.ignoring("participant.joined"):
            await guest.send({"type": "leave"})
            await guest.closed_with()
        assert (await agent.expect("participant.left"))["participant"]["pid"] == str(citizen.pid)
        await agent.close()

    run(scenario())
    row = Participant.objects.get(pid=citizen.pid)
    assert (row.status, row.online, row.lease_until, row.channel) == ("left", False, None, "")
    assert not presence.is_present(row)


def test_lost_connection_is_shown_at_once_then_gone_after_the_grace(room, moderator, short_grace):
    """The citizen's browser closes: the agent sees "connexion perdue" at once, then the
    citizen leaves the call after the grace, and the personal link is free again."""
    _phone, pid = _enter_by_link(room)

    async def scenario():
        agent, guest = await in_the_call(room.slug, moderator.pid, pid)
        await guest.close()
        lost = await agent.expect("participant.updated")
        assert lost["participant"]["pid"] == pid and lost["participant"]["online"] is False
        assert lost["participant"]["status"] == "admitted"  # still in the call, for the grace
        gone = await agent.expect("participant.left", timeout=10)
        assert gone["participant"]["pid"] == pid and gone["participant"]["status"] == "left"
        await agent.quiet()
        await agent.close()

    run(scenario())
    assert Participant.objects.get(pid=pid).status == "left"
    other_device = HttpClient().get(f"/r/{room.slug}/?t={tokens.make(room)}")
    assert other_device.context["held_elsewhere"] is False  # no "déjà ouvert ailleurs"


def test_reload_within_the_grace_is_back_in_the_call(room, moderator, citizen, short_grace):
    async def scenario():
        agent, guest = await in_the_call(room.slug, moderator.pid, citizen.pid)
        await guest.close()
        assert (await agent.expect("participant.updated"))["participant"]["online"] is False
        back = await Client(room.slug, citizen.pid).connect()  # the same session: no code
        state = await back.greeted()
        assert state["you"]["status"] == "admitted"  # no waiting room
        assert (await agent.expect("participant.joined"))["participant"]["online"] is True
        # Past the grace, nothing sends them away: their lease is renewed.
        row = await database_sync_to_async(Participant.objects.get)(pid=citizen.pid)
        await _sleep_past(row.lease_until + dt.timedelta(seconds=1))
        await agent.quiet()
        await back.quiet()
        await back.close()
        await agent.close()

    run(scenario())


async def _sleep_past(moment: dt.datetime) -> None:
    import asyncio

    await asyncio.sleep(max(0.0, (moment - timezone.now()).total_seconds()))


def test_the_sweep_clears_a_dead_process_sockets_then_their_place(room, moderator, citizen, settings):
    """A process killed with its sockets: their leases run out; the sweep marks them lost
    (the grace starts), then out of the room. A live one is untouched."""
    presence.move(room, str(citizen.pid), lobby.Status.ADMITTED)
    presence.connect(Participant.objects.get(pid=citizen.pid), process="web1/dead", channel="specific.dead!1")
    presence.connect(Participant.objects.get(pid=moderator.pid), process="web2/live", channel="specific.live!1")
    later = timezone.now() + dt.timedelta(seconds=settings.PRESENCE_LEASE_SECONDS + 1)
    # web2 goes on renewing; web1 is dead.
    Participant.objects.filter(pid=moderator.pid).update(lease_until=later + dt.timedelta(seconds=60))

    swept = presence.sweep(later)
    assert [str(p.pid) for p in swept.lost] == [str(citizen.pid)] and swept.gone == []
    ghost = Participant.objects.get(pid=citizen.pid)
    assert ghost.online is False and ghost.status == "admitted"
    assert presence.sweep(later) == presence.Swept(lost=[], gone=[])  # idempotent

    after_grace = later + dt.timedelta(seconds=settings.PRESENCE_GRACE_SECONDS + 1)
    swept = presence.sweep(after_grace)
    assert swept.lost == [] and [str(p.pid) for p in swept.gone] == [str(citizen.pid)]
    assert swept.gone[0].status == "admitted"  # as it was: the room is told it left the call
    assert Participant.objects.get(pid=citizen.pid).status == "left"
    assert Participant.objects.get(pid=moderator.pid).online is True


def test_someone_removed_whose_socket_is_closing_goes_offline_without_a_lost_notice(room, moderator, citizen):
    """Removed from the call (no lease from then on) while its socket, still open, is being
    closed: a sweep at that moment takes it offline, but the room, which saw it leave, is
    not told "connection lost" (the agent's page got a stray participant.updated)."""
    presence.move(room, str(citizen.pid), lobby.Status.ADMITTED)
    presence.connect(Participant.objects.get(pid=citizen.pid), process="web1/x", channel="specific.a!1")
    presence.move(room, str(citizen.pid), lobby.Status.REMOVED)
    removed = Participant.objects.get(pid=citizen.pid)
    assert (removed.online, removed.lease_until) == (True, None)
    assert presence.sweep() == presence.Swept(lost=[], gone=[])
    assert Participant.objects.get(pid=citizen.pid).online is False


def test_a_socket_taken_for_dead_comes_back_with_its_process_next_beat(room, citizen, settings):
    """The database was down longer than a lease: another process swept this one's live
    socket; this process's next beat puts it back online."""
    presence.connect(Participant.objects.get(pid=citizen.pid), process="web1/x", channel="specific.a!1")
    presence.sweep(timezone.now() + dt.timedelta(seconds=settings.PRESENCE_LEASE_SECONDS + 1))
    assert Participant.objects.get(pid=citizen.pid).online is False
    assert [str(p.pid) for p in presence.renew(["specific.a!1"])] == [str(citizen.pid)]
    assert Participant.objects.get(pid=citizen.pid).online is True
    assert presence.renew(["specific.a!1"]) == []


def test_a_restarted_process_clears_its_previous_run_at_once(room, moderator, citizen):
    presence.connect(Participant.objects.get(pid=citizen.pid), process="web1/oldboot", channel="specific.old!1")
    presence.connect(Participant.objects.get(pid=moderator.pid), process="web2/boot", channel="specific.other!1")
    lost = presence.clear_process("web1", "web1/newboot")
    assert [str(p.pid) for p in lost] == [str(citizen.pid)]
    assert Participant.objects.get(pid=citizen.pid).online is False
    assert Participant.objects.get(pid=moderator.pid).online is True  # another process's
    assert presence.clear_process("web1", "web1/newboot") == []


def test_a_late_disconnect_of_the_old_socket_does_not_unseat_the_new_one(room, citizen):
    """A reload's new socket may connect before the old one's disconnect runs."""
    row = Participant.objects.get(pid=citizen.pid)
    presence.connect(row, process="web1/a", channel="specific.old!1")
    presence.connect(row, process="web2/b", channel="specific.new!1")
    assert presence.disconnect(str(citizen.pid), "specific.old!1").online is True
    assert presence.disconnect(str(citizen.pid), "specific.new!1").online is False


def test_database_calls_give_their_pooled_connection_back(room, moderator):
    """A socket's life and the heartbeat leave no pooled connection checked out: none more
    after three socket lives than after the first."""
    assert connection.vendor == "postgresql"  # the pool is PostgreSQL's (./dev test runs on it)

    async def scenario():
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        await agent.quiet()
        await agent.close()

    def checked_out() -> int:
        stats = connection.pool.get_stats()
        return stats["pool_size"] - stats["pool_available"]

    run(scenario())
    # This test's own connection, and one a sync thread may keep until its next call.
    parked = checked_out()
    for _ in range(3):  # a leak would add up
        run(scenario())
    # A connection goes back to the pool when its thread is done with it (it may still be).
    wait_until(lambda: checked_out() <= parked, 10,
               what=lambda: f"pooled connections back (at most {parked} out): {connection.pool.get_stats()}")


def test_a_process_is_named_by_its_host_and_port_across_restarts(settings):
    import socket

    from rooms.leases import process_name

    host = socket.gethostname()
    assert process_name(["daphne", "-b", "127.0.0.1", "-p", "8001", "portal.asgi:application"]) == f"{host}:8001"
    assert process_name(["daphne", "--port=8002", "portal.asgi:application"]) == f"{host}:8002"
    assert process_name(["celery", "-A", "portal", "worker"]).startswith(f"{host}:pid")
    settings.PRESENCE_PROCESS_NAME = "web1"
    assert process_name(["daphne", "-p", "8001"]) == "web1"


def test_a_waiting_guest_whose_connection_is_lost_leaves_the_waiting_list_after_the_grace(
        room, moderator, citizen, short_grace):
    async def scenario():
        agent, guest = await seated(room.slug, moderator.pid, citizen.pid)
        await guest.close()
        lost = await agent.expect("participant.updated")  # the agents only: "connexion perdue"
        assert lost["participant"]["status"] == "waiting" and lost["participant"]["online"] is False
        gone = await agent.expect("lobby.left", timeout=10)
        assert gone["participant"]["pid"] == str(citizen.pid)
        await agent.quiet()
        await agent.close()

    run(scenario())
    assert Participant.objects.get(pid=citizen.pid).status == "left"



def test_handshakes_leave_no_pooled_connection_checked_out(room, moderator, structure_a, alice):
    """Every handshake's database calls (the session's user included) give their connection
    back, whether the socket is kept, refused or left open when its event loop ends: the
    pool does not drain test after test (it did: PoolTimeout, then BUSY everywhere)."""
    from tests.rooms.test_end import _end_by_the_agent

    def checked_out() -> int:
        stats = connection.pool.get_stats()
        return stats["pool_size"] - stats["pool_available"]

    def one_meeting() -> None:
        other = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(minutes=5)).room
        _end_by_the_agent(other, presence.enter_as_member(other, alice, moderator=True),
                          presence.enter_as_guest(other, "Jeanne Dupont"))

    one_meeting()
    parked = checked_out()
    for _ in range(4):  # a leak would add up
        one_meeting()
    wait_until(lambda: checked_out() <= parked, 10,
               what=lambda: f"pooled connections back (at most {parked} out): {connection.pool.get_stats()}")


def test_a_sweeper_that_can_tell_only_its_own_sockets_leaves_others_rows_to_their_process(room, moderator,
                                                                                          citizen, settings):
    """In-memory channel layer (the embedded default): Celery beat, or a second Daphne on
    the same database, must not take a lapsed row before the process holding it: the
    room would never hear that its citizen left. They take it only once abandoned."""
    presence.move(room, str(citizen.pid), lobby.Status.ADMITTED)
    presence.connect(Participant.objects.get(pid=citizen.pid), process="web1/boot", channel="specific.a!1")
    presence.disconnect(str(citizen.pid), "specific.a!1")  # the tab closed: the grace runs
    after_grace = timezone.now() + dt.timedelta(seconds=settings.PRESENCE_GRACE_SECONDS + 1)
    assert presence.sweep(after_grace, holder="") == presence.Swept(lost=[], gone=[])  # beat
    assert presence.sweep(after_grace, holder="web2") == presence.Swept(lost=[], gone=[])  # another Daphne
    assert Participant.objects.get(pid=citizen.pid).status == "admitted"
    swept = presence.sweep(after_grace, holder="web1")  # the process whose sockets hear it
    assert [str(p.pid) for p in swept.gone] == [str(citizen.pid)]
    assert Participant.objects.get(pid=citizen.pid).status == "left"


def test_an_abandoned_row_is_swept_by_anyone(room, citizen, settings):
    """Its process is gone for good (renamed, never restarted): past the abandon delay any
    sweeper repairs it, beat included."""
    presence.move(room, str(citizen.pid), lobby.Status.ADMITTED)
    presence.connect(Participant.objects.get(pid=citizen.pid), process="web1/boot", channel="specific.a!1")
    lapsed = timezone.now() + dt.timedelta(seconds=settings.PRESENCE_LEASE_SECONDS + 1)
    assert presence.sweep(lapsed, holder="") == presence.Swept(lost=[], gone=[])
    abandoned = lapsed + dt.timedelta(seconds=settings.PRESENCE_ABANDONED_SECONDS)
    assert [str(p.pid) for p in presence.sweep(abandoned, holder="").lost] == [str(citizen.pid)]
    later = abandoned + dt.timedelta(seconds=settings.PRESENCE_GRACE_SECONDS + settings.PRESENCE_ABANDONED_SECONDS + 1)
    assert [str(p.pid) for p in presence.sweep(later, holder="").gone] == [str(citizen.pid)]


def test_beat_on_an_in_memory_layer_leaves_a_fresh_lapse_to_the_daphne_process(room, citizen, settings):
    """The embedded default: beat's task with the in-memory layer takes only abandoned rows."""
    from rooms.tasks import sweep_presence

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    presence.move(room, str(citizen.pid), lobby.Status.ADMITTED)
    lapsed = timezone.now() - dt.timedelta(seconds=1)
    Participant.objects.filter(pid=citizen.pid).update(online=False, process="web1/boot", lease_until=lapsed)
    assert sweep_presence() == {"lost": 0, "gone": 0}
    Participant.objects.filter(pid=citizen.pid).update(
        lease_until=lapsed - dt.timedelta(seconds=settings.PRESENCE_ABANDONED_SECONDS))
    assert sweep_presence() == {"lost": 0, "gone": 1}
    assert Participant.objects.get(pid=citizen.pid).status == "left"
