"""Accounts: superusers manage all; others see only colleagues (for lists and autocomplete)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from portal import access

User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class ColleagueAdmin(UserAdmin):
    """No password of someone else is ever typed or shown here: accounts are created by
    inviting members (portal/admin/structures.py) and people set or reset their own."""

    search_fields = ["username", "first_name", "last_name", "email"]
    fieldsets = [(f, {**o, "fields": tuple(x for x in o["fields"] if x != "password")})
                 for f, o in UserAdmin.fieldsets]  # type: ignore[union-attr]

    def user_change_password(self, request, id, form_url=""):
        from django.http import Http404

        raise Http404  # one's own password: "change my password" (old one asked) or the reset link

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(memberships__structure_id__in=access.structure_ids(request.user)).distinct()

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
        if obj is None:
            return access.has_role(request.user)
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_add_permission(self, request):
        return False  # new accounts are invited as members of a structure (they choose their password)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        from django.http import Http404

        raise Http404
