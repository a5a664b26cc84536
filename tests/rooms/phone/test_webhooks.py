"""The voice webhooks, called as Twilio calls them: signed, TwiML followed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from rooms.models import Participant, PhoneCall
from tests import factories
from tests.rooms.phone.conftest import NUMBER


@pytest.fixture
def room(structure_a, alice):
    return factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(minutes=5)).room


def test_the_right_code_connects_the_stream_with_a_token_for_this_call(twilio, room, voice):
    call = twilio.dial(NUMBER, caller="+33612345678", digits=[room.password])
    assert "Tapez le code" in call.said[0]
    assert call.stream_url == voice.PHONE_STREAM_URL and not call.hung_up
    assert len(call.parameters["token"]) >= 40
    row = PhoneCall.objects.get(call_sid=call.sid)
    assert row.room == room and row.number_tail == "78" and row.token_used_at is None
    assert row.token_hash and call.parameters["token"] not in row.token_hash  # kept hashed
    assert not Participant.objects.exists()  # only the stream makes the participant


def test_three_wrong_codes_end_the_call_politely(twilio, room):
    wrong = "00000000" if room.password != "00000000" else "11111111"
    call = twilio.dial(NUMBER, digits=[wrong, wrong, wrong])
    assert call.hung_up and not call.stream_url
    assert "ne correspond" in call.said[1] and "Au revoir" in call.said[-1]
    assert PhoneCall.objects.get(call_sid=call.sid).wrong_codes == 3


def test_silence_counts_as_a_wrong_code_and_a_right_code_then_still_works(twilio, room):
    call = twilio.dial(NUMBER, digits=["", "1234", room.password])
    assert call.stream_url and not call.hung_up


def test_silence_three_times_hangs_up(twilio, room):
    call = twilio.dial(NUMBER, digits=[])
    assert call.hung_up and not call.stream_url


def test_a_bad_signature_is_refused_and_nothing_is_recorded(twilio, room):
    call = twilio.dial(NUMBER, digits=[room.password], sign=False)
    assert call.statuses == [403] and call.hung_up
    assert not PhoneCall.objects.exists() and not Participant.objects.exists()


def test_a_signature_for_another_url_is_refused(client, voice, room):
    from urllib.parse import urlencode

    from tests.notifications.voice import call_sid, signature

    form = {"CallSid": call_sid(), "From": "+33612345678", "To": NUMBER}
    response = client.post("/phone/voice/", urlencode(form), content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": signature("https://elsewhere.example/phone/voice/", form)})
    assert response.status_code == 403 and not PhoneCall.objects.exists()


def test_a_number_no_structure_has_says_so(twilio, room):
    call = twilio.dial("+33199999999", digits=[room.password])
    assert call.hung_up and "ne permet pas" in call.said[-1]


def test_too_early_and_locked_rooms_follow_the_entry_rules(twilio, structure_a, alice):
    later = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(hours=3)).room
    call = twilio.dial(NUMBER, digits=[later.password])
    assert call.hung_up and "pas encore ouvert" in call.said[-1]
    locked = factories.appointment(structure_a, alice, start=timezone.now() + dt.timedelta(minutes=2)).room
    locked.locked = True
    locked.save()
    call = twilio.dial(NUMBER, digits=[locked.password])
    assert call.hung_up and not call.stream_url


def test_another_structures_code_does_not_open_a_room(twilio, structure_b, bob):
    theirs = factories.appointment(structure_b, bob, start=timezone.now() + dt.timedelta(minutes=5)).room
    call = twilio.dial(NUMBER, digits=[theirs.password] * 3)
    assert call.hung_up and not call.stream_url


def test_the_status_callback_is_signed_and_recorded(client, twilio, room, voice):
    from urllib.parse import urlencode

    from tests.notifications.voice import signature

    call = twilio.dial(NUMBER, digits=[room.password])
    form = {"CallSid": call.sid, "CallStatus": "completed"}
    post = {"content_type": "application/x-www-form-urlencoded"}
    bad = client.post("/phone/status/", urlencode(form), headers={"X-Twilio-Signature": "x"}, **post)
    assert bad.status_code == 403
    good = client.post("/phone/status/", urlencode(form),
                       headers={"X-Twilio-Signature": signature(voice.PHONE_STATUS_URL, form)}, **post)
    assert good.status_code == 200 and PhoneCall.objects.get(call_sid=call.sid).status == "completed"


def test_the_join_page_gives_the_number_only_when_the_structure_has_one(client, room, structure_a):
    page = client.get(f"/r/{room.slug}/").content.decode()
    assert 'id="gv-phone"' not in page
    structure_a.voice_number = NUMBER
    structure_a.save()
    page = client.get(f"/r/{room.slug}/").content.decode()
    assert 'href="tel:+33180000000"' in page and "01 80 00 00 00" in page
    assert room.password not in page  # the code stays in the citizen's message


def test_the_back_office_sets_the_number_in_international_format(structure_a):
    structure_a.voice_number = "01 80 00 00 00"
    structure_a.full_clean()
    assert structure_a.voice_number == NUMBER


def test_with_media_on_separate_nodes_and_none_alive_the_caller_is_told_and_nothing_is_recorded(twilio, room, voice):
    voice.MEDIA_NODES = "remote"
    voice.MEDIA_REDIS_PREFIX = "gv-no-node-here:"  # an empty registry
    call = twilio.dial(NUMBER, digits=[room.password])
    assert call.hung_up and not call.stream_url and "momentanément indisponible" in call.said[-1]
    assert not PhoneCall.objects.exists()
    # With nodes alive, the call goes on: tests/rooms/phone/test_media_nodes_phone.py.
