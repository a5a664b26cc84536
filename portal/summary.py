"""The visit summary: the agent's one-click send (room page or back-office), the citizen's
page and its PDF, both opened with the citizen's personal token (portal/citizen.py) only.

Thin views: the text is the notes as the server holds them (rooms/notes/store.py), the
sending and the audit are notifications/summary.py, the PDF is `pdf_of` (fpdf2, pure Python,
the DSFR's Marianne font shipped with the static files).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe
from fpdf import FPDF

from notifications import summary as summaries
from notifications.delivery import channel_for
from notifications.models import VisitSummary
from portal import access
from portal.citizen import appointment_of
from portal.models import Appointment, Channel
from rooms.notes import store
from rooms.notes.text import Block, blocks

FONTS = Path(__file__).resolve().parents[1] / "rooms" / "static" / "dsfr" / "fonts"


@login_required
@require_POST
def send(request: HttpRequest, pk: int) -> HttpResponse:
    """Send the notes as they stand now; JSON for the room page, a redirect for the back-office."""
    appointment = get_object_or_404(Appointment.objects.select_related("structure"), pk=pk)
    if not access.has_role(request.user, access.EDITORS, appointment.structure_id):
        raise Http404  # another structure's appointment does not exist for this user
    wants_json = "application/json" in request.headers.get("Accept", "")
    user = request.user
    assert isinstance(user, AbstractBaseUser)  # login_required
    try:
        sent = summaries.send(appointment, store.text(appointment), user)
    except summaries.CannotSend as refusal:
        message = {
            "empty": _("The notes are empty: nothing to send."),
            "cancelled": _("This appointment was cancelled."),
            "expired": _("This appointment's data is past its retention period."),
        }[str(refusal)]
        if wants_json:
            return JsonResponse({"sent": False, "message": message}, status=409)
        from django.contrib import messages

        messages.error(request, message)
        return redirect("admin:portal_appointment_change", pk)
    channel = sent.notification.channel if sent.notification else channel_for(appointment)
    address = appointment.citizen_phone if channel == Channel.SMS else appointment.citizen_email
    message = (_("Visit summary sent by SMS to %(to)s.") if channel == Channel.SMS
               else _("Visit summary sent by email to %(to)s.")) % {"to": address}
    if wants_json:
        return JsonResponse({"sent": True, "message": message, "channel": channel})
    from django.contrib import messages

    messages.success(request, message)
    return redirect("admin:portal_appointment_change", pk)


def _citizen_summary(token: str) -> tuple[Appointment, VisitSummary, dt.datetime]:
    appointment = appointment_of(token)
    summary = summaries.latest(appointment) if appointment is not None else None
    if appointment is None or summary is None:
        raise Http404
    return appointment, summary, summaries.available_until(appointment)


def _private(response: HttpResponse) -> HttpResponse:
    response["Referrer-Policy"] = "no-referrer"  # the token is in the address
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache
@require_safe
def page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        appointment, summary, until = _citizen_summary(token)
    except Http404:
        return _private(render(request, "portal/summary.html", {"invalid": True}, status=404))
    timezone.activate(appointment.structure.time_zone)
    context = {"appointment": appointment, "structure": appointment.structure, "summary": summary,
               "blocks": blocks(summary.text), "until": until, "token": token}
    if timezone.now() >= until:
        return _private(render(request, "portal/summary.html", {**context, "expired": True}, status=410))
    return _private(render(request, "portal/summary.html", context))


@never_cache
@require_safe
def pdf(request: HttpRequest, token: str) -> HttpResponse:
    try:
        appointment, summary, until = _citizen_summary(token)
    except Http404:
        return _private(render(request, "portal/summary.html", {"invalid": True}, status=404))
    if timezone.now() >= until:
        return _private(HttpResponse(status=410))
    timezone.activate(appointment.structure.time_zone)
    response = HttpResponse(pdf_of(appointment, summary, until), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="compte-rendu-{appointment.start:%Y-%m-%d}.pdf"'
    return _private(response)


def pdf_of(appointment: Appointment, summary: VisitSummary, until: dt.datetime) -> bytes:
    """The summary as a PDF: the structure, the appointment, the notes' blocks as text (boxes
    drawn), until when the page keeps it. Nothing typed is interpreted."""
    document = FPDF(format="A4")
    document.set_title(_("Visit summary"))
    document.set_author(appointment.structure.name)
    document.set_creator(settings.SITE_URL)
    document.set_lang(settings.LANGUAGE_CODE)
    document.add_font("Marianne", "", str(FONTS / "Marianne-Regular.woff"))
    document.add_font("Marianne", "B", str(FONTS / "Marianne-Bold.woff"))
    document.set_auto_page_break(True, margin=18)
    document.add_page()
    local = timezone.localtime(appointment.start)
    document.set_font("Marianne", "B", 16)
    document.multi_cell(0, 8, _("Visit summary"), new_x="LMARGIN", new_y="NEXT")
    document.set_font("Marianne", "", 11)
    heading = f"{appointment.structure.name} — {appointment.subject}\n{formats.date_format(local, 'l j F Y, H:i')}"
    document.multi_cell(0, 6, heading, new_x="LMARGIN", new_y="NEXT")
    document.ln(4)
    for block in blocks(summary.text):
        _write(document, block)
    document.ln(6)
    document.set_font("Marianne", "", 9)
    sent = formats.date_format(timezone.localtime(summary.sent_at), "j F Y, H:i")
    footer = _("Sent on %(sent)s. Available online until %(until)s.") % {
        "sent": sent, "until": formats.date_format(timezone.localtime(until), "j F Y")}
    document.multi_cell(0, 5, footer, new_x="LMARGIN", new_y="NEXT")
    return bytes(document.output())


def _write(document: FPDF, block: Block) -> None:
    if block.kind == "blank":
        document.ln(3)
        return
    if block.kind == "heading":
        document.ln(2)
        document.set_font("Marianne", "B", 13)
        document.multi_cell(0, 7, block.text, new_x="LMARGIN", new_y="NEXT")
        return
    document.set_font("Marianne", "", 11)
    if block.kind in ("item", "box"):
        x, y = document.get_x(), document.get_y()
        if block.kind == "box":
            document.rect(x + 1, y + 1.2, 3.5, 3.5)
            if block.checked:
                document.line(x + 1.6, y + 3, x + 2.6, y + 4.2)
                document.line(x + 2.6, y + 4.2, x + 4.2, y + 1.6)
        else:
            document.cell(6, 6, "•")
        document.set_x(x + 7)
        document.multi_cell(0, 6, block.text or " ", new_x="LMARGIN", new_y="NEXT")
        return
    document.multi_cell(0, 6, block.text, new_x="LMARGIN", new_y="NEXT")
