"""Structures and memberships: members see their structure, managers manage its agents."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from portal import access
from portal.admin.scoping import ScopedAdmin
from portal.models import Membership, Role, Structure

MANAGERS = frozenset({Role.MANAGER})


@admin.register(Structure)
class StructureAdmin(ScopedAdmin):
    structure_field = "id"
    edit_roles = MANAGERS
    list_display = ["name", "time_zone", "helpdesk_phone", "helpdesk_email", "retention_days"]
    search_fields = ["name"]
    readonly_fields = ["kept_how_long"]

    @admin.display(description=_("What is kept how long"))
    def kept_how_long(self, obj=None):
        from portal import retention  # the registry, with this deployment's delays

        return format_html_join(mark_safe("<br>"), "{}", ((text,) for _name, text in retention.kept_how_long()))

    def has_add_permission(self, request):
        return request.user.is_superuser  # structures are opened by the platform's admins

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class NewMemberForm(forms.ModelForm):
    """A manager adds a colleague: an existing account by username, or a new one."""

    username = forms.CharField(label=_("username"), max_length=150)
    first_name = forms.CharField(label=_("first name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("email"), required=False)
    password = forms.CharField(
        label=_("password"),
        required=False,
        widget=forms.PasswordInput,
        help_text=_("Only for a new account."),
    )

    class Meta:
        model = Membership
        fields = ["structure", "role"]

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        User = get_user_model()
        self.existing_user = User.objects.filter(username=cleaned.get("username")).first()
        if self.existing_user is None and "username" in cleaned:
            if not cleaned.get("password"):
                self.add_error("password", _("A password is needed to create a new account."))
            else:
                try:
                    validate_password(cleaned["password"])
                except forms.ValidationError as error:
                    self.add_error("password", error)
        elif (
            self.existing_user is not None
            and cleaned.get("structure") is not None
            and Membership.objects.filter(user=self.existing_user, structure=cleaned["structure"]).exists()
        ):
            self.add_error("username", _("This person is already a member of this structure."))
        return cleaned

    @transaction.atomic
    def save(self, commit=True):
        user = self.existing_user
        if user is None:
            data = self.cleaned_data
            user = get_user_model().objects.create_user(
                username=data["username"],
                password=data["password"],
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
            )
        if not user.is_staff:
            user.is_staff = True  # admin access; rights still come only from memberships
            user.save(update_fields=["is_staff"])
        self.instance.user = user
        return super().save(commit=commit)


@admin.register(Membership)
class MembershipAdmin(ScopedAdmin):
    edit_roles = MANAGERS
    list_display = ["user", "structure", "role"]
    list_filter = ["role"]
    list_select_related = ["user", "structure"]
    search_fields = ["user__username", "user__last_name", "user__first_name"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = NewMemberForm
            kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["structure", "role", "username", "first_name", "last_name", "email", "password"]
        return ["user", "structure", "role"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "structure"] if obj else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "structure":
            kwargs["queryset"] = access.scope(Structure.objects.all(), request.user, "id", MANAGERS)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.user_id == request.user.pk and not request.user.is_superuser:
            return False  # nobody changes or removes their own role
        return super().has_change_permission(request, obj)
