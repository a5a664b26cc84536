"""The managers' statistics page (the counters of `counters.py`, the SVG of `charts.py`)
and its CSV export: a constant number of queries whatever the history."""

from __future__ import annotations

import csv
import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from notifications.models import Notification
from portal import access
from portal.dayview import PROBLEM_LABELS
from portal.models import Role, Structure, WeeklyCount
from portal.stats import charts
from portal.stats import counters as statistics
from portal.timezones import zone
from rooms.models import IdentityCheck

MANAGERS = frozenset({Role.MANAGER})
MAX_WEEKS = 160


class PeriodForm(forms.Form):
    structure = forms.ModelChoiceField(queryset=Structure.objects.none(), label=gettext_lazy("structure"),
                                       empty_label=None, required=False)
    first = forms.DateField(label=gettext_lazy("from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label=gettext_lazy("to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, user, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["structure"]
        field.queryset = access.scope(Structure.objects.all(), user, field="pk", allowed=MANAGERS)

    def clean(self):
        data = super().clean() or {}
        if data.get("structure") is None:
            field: Any = self.fields["structure"]
            data["structure"] = field.queryset.first()
        today = timezone.now().astimezone(zone(data["structure"].time_zone)).date() if data["structure"] else None
        data["last"] = data.get("last") or today
        data["first"] = data.get("first") or (data["last"] - dt.timedelta(weeks=52) if data["last"] else None)
        if data["first"] and data["last"]:
            if data["first"] > data["last"]:
                self.add_error("first", _("The start of the period is after its end."))
            elif (data["last"] - data["first"]).days > MAX_WEEKS * 7:
                self.add_error("first", _("At most %(weeks)d weeks at once.") % {"weeks": MAX_WEEKS})
        return data


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60


def build(result: statistics.Report) -> list[charts.Chart]:
    weeks = [week.strftime("%d/%m/%y") for week in result.weeks]
    week_name = _("week of")
    total = result.total()
    waits = [statistics.Report.waiting(result.by_week.get(week, statistics.Counter())) for week in result.weeks]
    device = [(_("passed"), total["device:ok"]), (_("not tested"), total["device:untested"])] + [
        (str(label), total[f"device:{key}"]) for key, label in PROBLEM_LABELS.items() if total[f"device:{key}"]]
    message_rows = []
    for channel, label in Notification._meta.get_field("channel").choices or []:
        for state, state_label in (("sent", _("sent")), ("delivered", _("delivered")), ("failed", _("failed"))):
            message_rows.append((f"{label} — {state_label}", total[f"msg:{channel}:{state}"]))
    message_rows.append((_("SMS segments (billed)"), total["sms_segments"]))
    outcomes = [(str(label), total[f"idcheck:{value}"]) for value, label in IdentityCheck.Outcome.choices]
    return [
        charts.stacked_bars(_("Appointments per week"), week_name, weeks, [
            charts.Series(_("held"), result.series("held")),
            charts.Series(_("no-show (never admitted)"), result.series("no_show")),
            charts.Series(_("cancelled"), result.series("cancelled")),
        ]),
        charts.stacked_bars(_("Appointments moved per week"), week_name, weeks,
                            [charts.Series(_("moved"), result.series("moved"))]),
        charts.lines(_("Waiting before admission (minutes)"), week_name, weeks, [
            charts.Series(_("median"), [_minutes(m) for m, _p in waits]),
            charts.Series(_("90th percentile"), [_minutes(p) for _m, p in waits]),
        ], decimals=1),
        charts.stacked_bars(_("How calls ended, per week"), week_name, weeks, [
            charts.Series(_("normally"), result.series("ended_normally")),
            charts.Series(_("by a failure"), result.series("ended_failure")),
        ]),
        charts.horizontal_bars(_("Device tests by result"), _("result"), device, _("appointments")),
        charts.horizontal_bars(_("Messages"), _("messages"), message_rows, _("number")),
        charts.horizontal_bars(_("ID checks by outcome"), _("outcome"), outcomes, _("checks")),
    ]


def agent_rows(result: statistics.Report) -> list[list[str]]:
    rows = []
    for agent_id, counts in sorted(result.by_agent.items(), key=lambda item: result.agent_names[item[0]]):
        median, p90 = statistics.Report.waiting(counts)
        rows.append([result.agent_names[agent_id], *(str(counts[m]) for m in statistics.APPOINTMENT_METRICS),
                     "—" if median is None else f"{median / 60:.1f}", "—" if p90 is None else f"{p90 / 60:.1f}"])
    return rows


def page(request: HttpRequest) -> HttpResponse:
    if not access.has_role(request.user, MANAGERS):
        raise PermissionDenied
    form = PeriodForm(request.user, request.GET)  # bound even when empty: every field has a default
    context = {**admin.site.each_context(request), "title": _("Statistics"), "form": form}
    if not form.is_valid():
        return render(request, "portal/statistics.html", context, status=400)
    structure, first, last = form.cleaned_data["structure"], form.cleaned_data["first"], form.cleaned_data["last"]
    if request.GET.get("format") == "csv":
        return _csv(structure, first, last)
    result = statistics.report(structure, first, last)
    context.update(title=f"{_('Statistics')} — {structure.name}", structure=structure, first=first, last=last,
                   charts=build(result), agents=agent_rows(result),
                   agent_columns=[_("agent"), _("booked"), _("held"), _("cancelled"), _("no-show"), _("moved"),
                                  _("median wait (min)"), _("90th percentile wait (min)")])
    return render(request, "portal/statistics.html", context)


def _csv(structure: Structure, first: dt.date, last: dt.date) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="statistiques-{structure.pk}-{first}-{last}.csv"'
    writer = csv.writer(response)
    writer.writerow(["week", "agent", "metric", "value"])
    weeks = statistics.weeks_between(first, last)
    rows = (WeeklyCount.objects.filter(structure=structure, week__gte=weeks[0], week__lte=weeks[-1])
            .values_list("week", "agent__username", "metric").order_by("week", "agent__username", "metric")
            .annotate(total=statistics.Sum("value")))
    for week, agent, metric, value in rows:
        writer.writerow([week.isoformat(), agent or "", metric, value])
    return response
