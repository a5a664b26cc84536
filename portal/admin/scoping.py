"""Structure isolation for every admin: querysets, object rights, choices, missing objects.

Rights come from portal.access (memberships), not from Django's per-model permissions,
so an agent needs no permission rows: being a member with a role is enough.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import Http404

from portal import access


class ScopedAdmin(admin.ModelAdmin):
    """Rows belong to a structure through `structure_field`; roles decide the rest."""

    structure_field = "structure"
    view_roles = access.VIEWERS
    edit_roles = access.EDITORS

    def _structure_id(self, obj) -> int | None:
        value = obj
        for part in self.structure_field.split("__"):
            value = getattr(value, part if part != "structure" else "structure_id", None)
        return value

    def get_queryset(self, request):
        return access.scope(super().get_queryset(request), request.user, self.structure_field, self.view_roles)

    def has_module_permission(self, request):
        return access.has_role(request.user, self.view_roles)

    def has_view_permission(self, request, obj=None):
        sid = None if obj is None else self._structure_id(obj)
        return access.has_role(request.user, self.view_roles, sid)

    def has_add_permission(self, request):
        return access.has_role(request.user, self.edit_roles)

    def has_change_permission(self, request, obj=None):
        sid = None if obj is None else self._structure_id(obj)
        return access.has_role(request.user, self.edit_roles, sid)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """Structure and agent choices: only the user's structures and their agents."""
        from django.contrib.auth import get_user_model

        from portal.models import Structure

        if db_field.name == "structure":
            kwargs["queryset"] = access.scope(Structure.objects.all(), request.user, "id", self.edit_roles)
        elif db_field.name == "agent":
            users = get_user_model().objects.filter(memberships__role__in=list(access.EDITORS),
                                                    memberships__active=True)
            kwargs["queryset"] = access.scope(users, request.user, "memberships__structure", self.edit_roles).distinct()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Another structure's object, or none: the same 404, which says nothing about which.
        raise Http404
