"""Room pages: the citizen's link (pre-join, password, lobby) and the agent's entry."""

from __future__ import annotations

import json

from asgiref.sync import async_to_sync
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal import clientaddress
from portal.models import Status
from portal.phones import display as phone_display
from portal.security import allow_capture
from rooms import actions, entry, joinlimits, journey, lobby, presence, services, tokens
from rooms.entry import phase_of, window_of
from rooms.forms import JoinForm
from rooms.ice import ice_servers_for
from rooms.models import Room
from rooms.presence import session_key
from rooms.window import Phase


def _room(slug: str) -> Room:
    return get_object_or_404(Room.objects.select_related("appointment__structure", "appointment__agent"), slug=slug)


# Dead for good: 410 Gone tells proxies and the browser (and the tests) so.
GONE = (Phase.CANCELLED, Phase.ENDED)


def _context(room: Room, **extra) -> dict:
    structure = room.appointment.structure
    return {
        "room": room,
        "appointment": room.appointment,
        "structure": structure,
        "helpdesk_phone_display": phone_display(structure.helpdesk_phone),
        "voice_number_display": phone_display(structure.voice_number),  # joining by telephone
        **extra,
    }


# never_cache: a link's page changes with the appointment (ended, then reopened by the agent):
# a browser must not keep its 410 (heuristically cacheable) or an older state.
@never_cache
@allow_capture("camera", "microphone")  # the pre-join device check
def join(request: HttpRequest, slug: str) -> HttpResponse:
    room = _room(slug)
    timezone.activate(room.appointment.structure.time_zone)
    phase = phase_of(room)
    context = _context(room, phase=phase.value, window=window_of(room), locked_out=False, lock_reason="",
                       retry_after_minutes=0, retry_after_seconds=0)
    if request.method == "GET" and phase in (Phase.OPEN, Phase.TOO_EARLY):
        journey.link_opened(room)
    if phase is not Phase.OPEN:
        return render(request, "rooms/join.html", context, status=410 if phase in GONE else 200)
    token = request.POST.get("t") if request.method == "POST" else request.GET.get("t")
    if token:
        entered = _personal_link(request, room, token, context)
        if entered is not None:
            return entered
    form = JoinForm(request.POST if request.method == "POST" and not token else None)
    if request.method == "POST" and not token:
        role = lobby.Role.INTERPRETER if form.is_valid() and form.cleaned_data["interpreter"] else lobby.Role.GUEST
        decision, _none = entry.enter(room, entry.Via.CODE, role)
        if decision.refusal is entry.Refusal.LOCKED:
            form.add_error(None, _("The agent has locked the room: nobody new can enter."))
        elif form.is_valid():
            address = clientaddress.from_request(request)  # behind proxies: TRUSTED_PROXIES
            result = joinlimits.attempt(room, address, form.cleaned_data["password"])
            if result.entered:
                participant = presence.enter_as_guest(room, form.cleaned_data["name"], role=decision.role)
                request.session.cycle_key()  # a fresh session id once the code is proven
                request.session[session_key(slug)] = str(participant.pid)
                return redirect("rooms:room", slug=slug)
            if result.checked:
                form.add_error("password", _("This code is not right. Check the message you received."))
            if result.verdict.blocked:
                # The page says why and how long (and that the personal link still works).
                seconds = result.verdict.seconds_left(timezone.now())
                context.update(locked_out=True, lock_reason=result.verdict.reason, retry_after_seconds=seconds,
                               retry_after_minutes=(seconds + 59) // 60)
    context["form"] = form
    response = render(request, "rooms/join.html", context, status=429 if context["locked_out"] else 200)
    if context["locked_out"]:
        response["Retry-After"] = str(context["retry_after_seconds"])
    return response


def _personal_link(request: HttpRequest, room: Room, token: str, context: dict) -> HttpResponse | None:
    """The personal link: the GET only shows the page with its button (a mail scanner or a
    link preview, even one running the page's scripts, binds nothing); the button's POST
    (CSRF-protected) binds it to this browser, taking it over from another device if need
    be. None when the page is to be rendered (with `context` saying what to show)."""
    try:
        token_id = tokens.check(token, room)
    except tokens.BadToken:
        context["token_refused"] = True  # the page says why and offers the code instead
        return None
    mine = request.session.get(session_key(room.slug))
    decision, current = entry.enter(room, entry.Via.LINK, lobby.Role.GUEST, token_id=token_id)
    if not decision.allowed:
        context["token_refused"] = True  # refused or removed: the link does not bring them back
        return None
    if current is not None and str(current.pid) == mine:
        return redirect("rooms:room", slug=room.slug)  # this browser is already the one
    if request.method != "POST":
        context.update(personal_token=token, held_elsewhere=current is not None)
        return None
    if current is None:
        current = presence.enter_as_guest(room, room.appointment.citizen_full_name, token_id=token_id)
    else:
        with transaction.atomic():
            old_pid = presence.take_over(current)
            seen = current.as_dict()
            transaction.on_commit(lambda: async_to_sync(actions.replaced)(room, old_pid, seen))
    request.session.cycle_key()
    request.session[session_key(room.slug)] = str(current.pid)
    return redirect("rooms:room", slug=room.slug)


@login_required
def agent_room(request: HttpRequest, slug: str) -> HttpResponse:
    """A member of the structure's way in: moderators into the call, third parties (other
    agents, the helpdesk) into the waiting room (rooms/entry.py)."""
    room = _room(slug)
    role = entry.member_role(room, request.user)
    if role is None:
        raise Http404  # another structure's room: not even its existence is confirmed
    decision, participant = entry.enter(room, entry.Via.MEMBER, role, user=request.user)
    if decision.status is None:
        timezone.activate(room.appointment.structure.time_zone)
        phase = phase_of(room)
        moderator = role is lobby.Role.MODERATOR
        # Ended by mistake? Its agents and managers can reopen it while the window lasts.
        can_reopen = (moderator and phase is Phase.ENDED and room.appointment.status == Status.DONE
                      and timezone.now() < services.closes_at(room.appointment))
        return render(
            request,
            "rooms/join.html",
            _context(room, phase=phase.value if phase in GONE else "refused", window=window_of(room),
                     locked_out=False, retry_after_minutes=0, can_reopen=can_reopen,
                     refusal=decision.refusal),
            status=410 if phase in GONE else 403,
        )
    participant = presence.place_member(room, request.user, participant, role=decision.role,
                                        status=decision.status)
    request.session[session_key(slug)] = str(participant.pid)
    return redirect("rooms:room", slug=slug)


@allow_capture("camera", "microphone", "display-capture")  # the call, screen share
def room_page(request: HttpRequest, slug: str) -> HttpResponse:
    room = _room(slug)
    participant = presence.find(slug, request.session.get(session_key(slug)))
    if participant is None or participant.status in lobby.FINAL:
        return redirect("rooms:join", slug=slug)
    timezone.activate(room.appointment.structure.time_zone)
    moderator = participant.role == lobby.Role.MODERATOR
    config = {
        "pid": str(participant.pid),
        "name": participant.name,
        "role": participant.role,
        "status": participant.status,  # the page shows the waiting room before its socket says so
        "slug": slug,
        "ws_path": ws_path(slug),
        "ice_servers": ice_servers_for(str(participant.pid)),
        "join_url": room.join_url if moderator else None,
        "leave_url": reverse("rooms:join", kwargs={"slug": slug}),
        "helpdesk_phone": room.appointment.structure.helpdesk_phone,
    }
    return render(
        request,
        "rooms/room.html",
        _context(
            room, participant=participant, is_moderator=moderator, join_url=config["join_url"], client_config=config,
            reports_devices=participant.role == lobby.Role.GUEST,
            # "Call the citizen" (rooms/phone/dialout.py): the structure's number allows it.
            dial_out=moderator and bool(room.appointment.structure.voice_number
                                        and room.appointment.structure.voice_dial_out),
        ),
    )


@require_POST
def device_check(request: HttpRequest, slug: str) -> HttpResponse:
    """The room page (guests) and the device test page report their camera/microphone check
    here, from the citizen's own session only (journey.may_report)."""
    room = _room(slug)
    if phase_of(room) in (*GONE, Phase.OVER):
        return JsonResponse({"error": "closed"}, status=410)
    if not journey.may_report(request.session, slug):
        return JsonResponse({"error": "no_session"}, status=403)
    try:
        report = json.loads(request.body or b"{}")
        ok, problems = report["ok"], report.get("problems", [])
        if type(ok) is not bool or not isinstance(problems, list) or len(problems) > 10:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "expected {\"ok\": bool, \"problems\": [str]}"}, status=400)
    journey.device_checked(room, ok, [str(p)[:40] for p in problems])
    return JsonResponse({"recorded": True})


def ws_path(slug: str) -> str:
    return f"/ws/rooms/{slug}/"
