"""Back-office pages for a citizen's data (portal/citizendata.py): search, export, erase.

Everything goes by POST, so that the number or address searched never lands in a URL (the
proxy's and the browser's history). Helpdesk and managers of a structure search and export
in it; only its managers erase. Each action writes an audit line.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal import access, citizendata
from portal.models import CitizenDataAudit, Role, Structure

SEARCHERS = frozenset({Role.MANAGER, Role.HELPDESK})
ERASERS = frozenset({Role.MANAGER})


class SearchForm(forms.Form):
    structure = forms.ModelChoiceField(queryset=Structure.objects.none(), label=gettext_lazy("structure"),
                                       empty_label=None)
    term = forms.CharField(label=gettext_lazy("Phone number or email address"), max_length=citizendata.MAX_LENGTH,
                           strip=True)
    confirm = forms.BooleanField(required=False, label=gettext_lazy("I confirm the erase of this citizen's data"))

    def __init__(self, user, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["structure"]
        field.queryset = access.scope(Structure.objects.all(), user, field="pk", allowed=SEARCHERS)

    def clean(self):
        data = super().clean() or {}
        if data.get("structure") and data.get("term"):
            try:
                data["parsed"] = citizendata.parse(data["term"], data["structure"])
            except citizendata.BadTerm as error:
                self.add_error("term", str(error))
        return data


def page(request: HttpRequest) -> HttpResponse:
    if not access.has_role(request.user, SEARCHERS):
        raise PermissionDenied
    form = SearchForm(request.user, request.POST or None)
    found = erased = None
    action = request.POST.get("action", "search")
    if request.method == "POST" and form.is_valid():
        structure, term = form.cleaned_data["structure"], form.cleaned_data["parsed"]
        found = citizendata.find(structure, term)
        if action == "json":
            citizendata.audit(request.user, structure, CitizenDataAudit.Action.EXPORT_JSON, term, found.rows)
            return _download(citizendata.to_json(found), "application/json", "json")
        if action == "csv":
            citizendata.audit(request.user, structure, CitizenDataAudit.Action.EXPORT_CSV, term, found.rows)
            return _download(citizendata.to_csv(found), "text/csv; charset=utf-8", "csv")
        if action == "erase":
            if not access.has_role(request.user, ERASERS, structure.pk):
                raise PermissionDenied
            if not form.cleaned_data.get("confirm"):
                form.add_error("confirm", _("Tick the box to confirm the erase."))
            else:
                erased = citizendata.erase(found)
                citizendata.audit(request.user, structure, CitizenDataAudit.Action.ERASE, term,
                                  sum(erased.purged.values()))
                messages.success(request, _("The citizen's data was erased."))
                found = citizendata.find(structure, term)
        if action == "search":
            citizendata.audit(request.user, structure, CitizenDataAudit.Action.SEARCH, term, found.rows)
    may_erase = found is not None and access.has_role(request.user, ERASERS, found.structure.pk)
    context = {**admin.site.each_context(request), "title": _("A citizen's data"), "form": form, "found": found,
               "erased": erased, "may_erase": may_erase,
               "upcoming": len(found.upcoming()) if found else 0}
    return render(request, "portal/citizen_data.html", context)


def _download(body: str, content_type: str, extension: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    name = f"donnees-citoyen-{timezone.now():%Y%m%d-%H%M%S}.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
