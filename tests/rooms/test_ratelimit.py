"""Per-connection limits: the token bucket on a hand-driven clock, then each limited
message type through the real consumer, and names that claim a role."""

import pytest

from rooms.protocol import ProtocolError, claims_role, parse
from rooms.ratelimit import LIMITS, Limit, Limiter, TokenBucket
from tests.rooms.conftest import Client, run, seated


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_gives_its_burst_then_one_token_per_period():
    clock = Clock()
    bucket = TokenBucket(Limit(burst=3, rate=0.5), clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    assert bucket.retry_after() == pytest.approx(2.0)
    clock.now += 1.9
    assert not bucket.take()
    clock.now += 0.1
    assert bucket.take() and not bucket.take()
    clock.now += 3600  # a long pause refills to the burst, not beyond
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_a_limiter_keeps_one_bucket_per_type_and_lets_others_through():
    clock = Clock()
    limiter = Limiter({"chat.send": Limit(burst=2, rate=1.0)}, clock)
    assert limiter.allow("chat.send") is None and limiter.allow("chat.send") is None
    assert limiter.allow("chat.send") == pytest.approx(1.0)
    assert all(limiter.allow("ping") is None for _ in range(100))  # not limited
    clock.now += 1
    assert limiter.allow("chat.send") is None


@pytest.mark.parametrize("name", [
    "Camille Martin (agent)", "Agent Martin", "camille martin AGENT", "Jeanne - Modératrice",
    "MODERATEUR", "Paul l'interprète", "Interprete Paul", "Assistance France Services", "Léa (assistante)",
    "Marc, conseiller", "Admin", "Zoé france services",
])
def test_names_that_claim_a_role_are_refused(name):
    assert claims_role(name)
    with pytest.raises(ProtocolError) as refused:
        parse(f'{{"type": "name.set", "name": "{name}"}}')
    assert refused.value.code == "reserved_name"


@pytest.mark.parametrize("name", ["Jeanne Dupont", "Régent Marc", "Agnès Gentil", "Marie Agenta",
                                  "Léa Modrić", "Jean-Paul Interlude", "Sergent Pierre"])
def test_ordinary_names_pass(name):
    assert not claims_role(name)
    assert parse(f'{{"type": "name.set", "name": "{name}"}}')["name"] == name


pytestmark_db = pytest.mark.django_db(transaction=True)  # the tests through the consumer


async def flood(client: Client, message: dict, reply: str | None, limit: int) -> dict:
    """Send `limit` + 1 messages at once: the first `limit` pass (each answered with
    `reply`, if any, to the sender), the last is refused with `rate_limited`. The error
    comes straight back while the replies go round the channel layer: any order."""
    for _ in range(limit + 1):
        await client.send(message)
    got: list[dict] = [await client.recv() for _ in range(limit + 1 if reply else 1)]
    errors = [m for m in got if m["type"] == "error"]
    assert len(errors) == 1, got
    assert [m["type"] for m in got if m["type"] != "error"] == ([reply] * limit if reply else []), got
    return errors[0]


@pytestmark_db
@pytest.mark.parametrize(("message", "reply"), [
    ({"type": "chat.send", "text": "bonjour"}, "chat.message"),
    ({"type": "hand.set", "raised": True}, "participant.updated"),
    ({"type": "name.set", "name": "Jeanne D."}, "participant.updated"),
    ({"type": "reaction.send", "reaction": "clap"}, "reaction"),
    ({"type": "quality.set", "link": "poor"}, "participant.link"),
])
def test_an_admitted_participant_is_rate_limited(room, moderator, citizen, message, reply):
    citizen.status = "admitted"
    citizen.save()

    async def scenario():
        guest = await Client(room.slug, citizen.pid).connect()
        await guest.greeted()
        error = await flood(guest, message, reply, LIMITS[message["type"]].burst)
        assert error["code"] == "rate_limited" and error["ref"] == message["type"]
        assert "retry in" in error["message"]
        await guest.quiet()  # the connection carries on
        await guest.close()

    run(scenario())


@pytestmark_db
def test_a_waiting_guest_renaming_and_an_agent_messaging_the_lobby_are_rate_limited(room, moderator, citizen):
    async def scenario():
        agent, guest = await seated(room.slug, moderator.pid, citizen.pid)
        # Renames from the waiting room reach only the agents (no echo to the guest).
        error = await flood(guest, {"type": "name.set", "name": "Jeanne D."}, None, LIMITS["name.set"].burst)
        assert error["code"] == "rate_limited"
        for _ in range(LIMITS["name.set"].burst):
            await agent.expect("participant.updated")
        burst = LIMITS["lobby.message"].burst
        error = await flood(agent, {"type": "lobby.message", "pid": str(citizen.pid), "text": "5 minutes"},
                            None, burst)
        assert error["code"] == "rate_limited" and error["ref"] == "lobby.message"
        for _ in range(burst):
            await guest.expect("lobby.message")
        await guest.quiet()
        await agent.quiet()
        await agent.close()
        await guest.close()

    run(scenario())


@pytestmark_db
def test_sdp_offers_are_rate_limited(room, citizen):
    citizen.status = "admitted"
    citizen.save()

    async def scenario():
        guest = await Client(room.slug, citizen.pid).connect()
        await guest.greeted()
        # Garbage SDP: refused by the engine's check (bad_sdp) but it still costs a token.
        burst = LIMITS["rtc.offer"].burst
        for _ in range(burst + 1):
            await guest.send({"type": "rtc.offer", "sdp": "v=0"})
        codes = [(await guest.expect("error", timeout=15))["code"] for _ in range(burst + 1)]
        assert codes == ["bad_sdp"] * burst + ["rate_limited"]
        await guest.close()

    run(scenario())


@pytestmark_db
def test_a_name_claiming_a_role_is_refused_with_a_clear_error(room, moderator, citizen):
    citizen.status = "admitted"
    citizen.save()

    async def scenario():
        guest = await Client(room.slug, citizen.pid).connect()
        await guest.greeted()
        await guest.send({"type": "name.set", "name": "Camille Martin (agent)"})
        error = await guest.expect("error")
        assert error["code"] == "reserved_name" and "role" in error["message"]
        await guest.quiet()
        await guest.close()

    run(scenario())
