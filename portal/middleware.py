"""Show times in the zone of the user's structure (agents of Guadeloupe see their hours)."""

from __future__ import annotations

from django.utils import timezone

from portal import access
from portal.models import Structure


class StructureTimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        ids = access.structure_ids(user) if user is not None and user.is_authenticated else set()
        name = Structure.objects.filter(id__in=ids).order_by("id").values_list("time_zone", flat=True).first() \
            if ids else None
        if name:
            timezone.activate(name)
        else:
            timezone.deactivate()
        return self.get_response(request)
