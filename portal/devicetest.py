"""The citizen's device test, days or minutes ahead: camera, microphone and connection.

Reached from the confirmation and the day-before message with the same signed token as
the cancel/move link (portal/citizen.py). The page runs the pre-join checks, then opens a
real WebRTC connection to our media engine, alone in a test room of its own, for a few
seconds: it proves that ICE, DTLS and RTP get through the citizen's network to our
servers. The result goes to the agents' day view (rooms/journey.py), as the pre-join's does.
Nothing is recorded: the engine forwards to nobody in a test room.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal.citizen import appointment_of
from portal.models import Appointment, Status
from portal.phones import display as phone_display
from portal.security import allow_capture
from rooms import journey
from rooms.ice import ice_servers_for
from rooms.mediabridge import MediaError, MediaTimeout, MediaUnavailable, media, spawn

log = logging.getLogger(__name__)

TEST_SECONDS = 20  # the test connection is dropped by the server after this, whatever the page does
MAX_BODY = 70 * 1024  # an offer's SDP is at most 64 KiB (media/engine/sdp_check.py)
MAX_TESTS = 20  # device tests at once in this process: the engine's peers serve the calls first
_running: dict[str, asyncio.Task] = {}  # appointment test room → the task that ends it
_starting: set[str] = set()  # test rooms whose offer is being answered right now


def test_room(appointment: Appointment) -> str:
    # Its own room on the media engine: never the appointment's, so nobody sees the test.
    return f"test.{appointment.room.slug}"


def usable(appointment: Appointment | None) -> str:
    """'' when the test may run, else why not: invalid, cancelled, ended, over."""
    if appointment is None:
        return "invalid"
    if appointment.status == Status.CANCELLED:
        return "cancelled"
    if appointment.status in (Status.DONE, Status.NO_SHOW):
        return "ended"
    if appointment.status != Status.SCHEDULED or appointment.end <= timezone.now():
        return "over"
    return ""


@never_cache  # ended, then reopened: never a stale 410 (rooms.views.join)
@allow_capture("camera", "microphone")
def page(request: HttpRequest, token: str) -> HttpResponse:
    appointment = appointment_of(token)
    problem = usable(appointment)
    context: dict = {"problem": problem}
    if appointment is not None:
        if not problem:
            journey.allow_report(request.session, appointment.room.slug)  # the citizen's link, proven
        timezone.activate(appointment.structure.time_zone)
        structure = appointment.structure
        context.update(
            appointment=appointment, structure=structure,
            helpdesk_phone_display=phone_display(structure.helpdesk_phone, structure.phone_region_code()),
            report_url=reverse("rooms:device_check", kwargs={"slug": appointment.room.slug}),
            offer_url=reverse("device_test_offer", kwargs={"token": token}),
            manage_path=reverse("manage_appointment", kwargs={"token": token}),
            client_config={"ice_servers": ice_servers_for(), "seconds": TEST_SECONDS},
        )
    status = {"invalid": 404, "cancelled": 410, "ended": 410}.get(problem, 200)
    return render(request, "portal/device_test.html", context, status=status)


@require_POST
async def offer(request: HttpRequest, token: str) -> HttpResponse:
    """The page's offer → the engine's answer, for a connection that lives TEST_SECONDS."""
    appointment = await sync_to_async(appointment_of)(token)
    problem = usable(appointment)
    if problem:
        return JsonResponse({"error": problem}, status=404 if problem == "invalid" else 410)
    assert appointment is not None  # usable() said so
    try:
        if len(request.body) > MAX_BODY:
            raise ValueError
        sdp = json.loads(request.body)["sdp"]
        if not isinstance(sdp, str):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": 'expected {"sdp": "<an SDP offer>"}'}, status=400)
    room = await sync_to_async(test_room)(appointment)
    # One peer per link at a time: a new test (a reload) replaces the last one, but offers
    # sent in parallel with the same link are refused while one is being answered.
    if room in _starting:
        return _busy("A test is already starting for this appointment.", status=429)
    if room not in _running and len(_running) + len(_starting) >= MAX_TESTS:
        return _busy("Too many device tests at once; try again in a minute.", status=503)
    _starting.add(room)
    try:
        await _end(room)
        reply = await media().join(room, uuid.uuid4().hex, sdp)
    except (MediaUnavailable, MediaTimeout) as error:  # the service, not the offer
        return JsonResponse({"error": "media_unavailable", "message": str(error)}, status=503)
    except MediaError as error:
        return JsonResponse({"error": "bad_sdp", "message": str(error)}, status=400)
    finally:
        _starting.discard(room)
    _running[room] = spawn(_close_later(room), name=f"device test {room}")
    return JsonResponse({"sdp": reply["sdp"], "seconds": TEST_SECONDS})


def _busy(message: str, status: int) -> JsonResponse:
    response = JsonResponse({"error": "busy", "message": message}, status=status)
    response["Retry-After"] = "30"
    return response


async def _close_later(room: str) -> None:
    await asyncio.sleep(TEST_SECONDS)
    _running.pop(room, None)
    await _close(room)


async def _end(room: str) -> None:
    task = _running.pop(room, None)
    if task is not None:
        task.cancel()
        await _close(room)


async def _close(room: str) -> None:
    try:
        await media().close_room(room)
    except MediaError as error:  # a dead node took the test with it: nothing left to close
        log.info("device test room %s: %s", room, error)
