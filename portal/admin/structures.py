"""Structures and memberships: members see their structure, managers manage its agents."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from portal import access
from portal.accounts import invitations, members
from portal.admin.scoping import ScopedAdmin
from portal.models import InvitationState, Membership, Role, Structure

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
    """A manager adds a colleague: an existing account by username, or a new one, invited by
    email to choose their own password (portal/accounts/invitations.py). The manager never
    sees nor types a password."""

    username = forms.CharField(label=_("username"), max_length=150)
    first_name = forms.CharField(label=_("first name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("email"), required=False,
                             help_text=_("For a new account: the invitation to choose a password goes there."))

    class Meta:
        model = Membership
        fields = ["structure", "role"]

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        User = get_user_model()
        self.existing_user = User.objects.filter(username=cleaned.get("username")).first()
        if self.existing_user is None and "username" in cleaned:
            try:
                UnicodeUsernameValidator()(cleaned["username"])
            except forms.ValidationError as error:
                self.add_error("username", error)
            if not cleaned.get("email"):
                self.add_error("email", _("An email address is needed to invite a new account."))
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
        self.new_account = user is None
        if user is None:
            data = self.cleaned_data
            user = get_user_model().objects.create_user(
                username=data["username"],
                password=None,  # unusable: the person chooses theirs from the invitation
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
            )
        if not user.is_staff:
            user.is_staff = True  # admin access; rights still come only from memberships
            user.save(update_fields=["is_staff"])
        self.instance.user = user
        return super().save(commit=commit)


def _managed(request, queryset):
    """The selected memberships of structures the user manages, never their own."""
    return access.scope(queryset, request.user, "structure", MANAGERS).exclude(user=request.user)


@admin.action(description=_("Send the invitation again (new link)"))
def resend_invitations(modeladmin, request, queryset):
    sent = failed = 0
    for membership in _managed(request, queryset).select_related("user__invitation", "structure"):
        invitation = getattr(membership.user, "invitation", None)
        if invitation is None or invitation.state() == InvitationState.ACCEPTED:
            continue
        if invitations.resend(invitation, request.user, membership.structure.name):
            sent += 1
        else:
            failed += 1
    modeladmin.message_user(request, _("Invitations sent: %(sent)d.") % {"sent": sent}, messages.SUCCESS)
    if failed:
        modeladmin.message_user(request, _("Invitations that could not be sent (mail server): %(failed)d. "
                                           "Try again later.") % {"failed": failed}, messages.ERROR)


@admin.action(description=_("Revoke the invitation"))
def revoke_invitations(modeladmin, request, queryset):
    count = 0
    for membership in _managed(request, queryset).select_related("user__invitation"):
        invitation = getattr(membership.user, "invitation", None)
        if invitation is not None and invitation.state() in (InvitationState.PENDING, InvitationState.EXPIRED):
            invitations.revoke(invitation)
            count += 1
    modeladmin.message_user(request, _("Invitations revoked: %(count)d.") % {"count": count}, messages.SUCCESS)


@admin.action(description=_("Deactivate now (ends their sessions)"))
def deactivate_members(modeladmin, request, queryset):
    count = 0
    for membership in _managed(request, queryset).filter(active=True).select_related("user"):
        members.deactivate(membership, by=request.user)
        count += 1
    modeladmin.message_user(request, _("Members deactivated: %(count)d.") % {"count": count}, messages.SUCCESS)


@admin.action(description=_("Reactivate"))
def reactivate_members(modeladmin, request, queryset):
    count = 0
    for membership in _managed(request, queryset).filter(active=False).select_related("user"):
        members.reactivate(membership)
        count += 1
    modeladmin.message_user(request, _("Members reactivated: %(count)d.") % {"count": count}, messages.SUCCESS)


@admin.action(description=_("Reset the second factor (lost phone: they set up a new app at their next sign-in)"))
def reset_second_factors(modeladmin, request, queryset):
    count = 0
    for membership in _managed(request, queryset).select_related("user"):
        members.reset_second_factor(membership, by=request.user)
        count += 1
    modeladmin.message_user(request, _("Second factors reset: %(count)d.") % {"count": count}, messages.SUCCESS)


@admin.register(Membership)
class MembershipAdmin(ScopedAdmin):
    edit_roles = MANAGERS
    list_display = ["user", "structure", "role", "account_state"]
    list_filter = ["role", "active"]
    list_select_related = ["user", "structure", "user__invitation"]
    search_fields = ["user__username", "user__last_name", "user__first_name"]
    actions = [resend_invitations, revoke_invitations, deactivate_members, reactivate_members, reset_second_factors]

    @admin.display(description=_("account"))
    def account_state(self, obj: Membership) -> str:
        """The account's state in words, and as `data-account-state` (deactivated, active,
        pending, expired, revoked)."""
        if not obj.active:
            state, text = "deactivated", str(_("deactivated"))
        elif (invitation := getattr(obj.user, "invitation", None)) is None \
                or invitation.state() == InvitationState.ACCEPTED:
            state, text = "active", str(_("account active"))
        elif invitation.state() == InvitationState.PENDING:
            until = date_format(timezone.localtime(invitation.expires_at()), "SHORT_DATETIME_FORMAT")
            state, text = "pending", str(_("invitation sent, valid until %(until)s") % {"until": until})
        else:
            state, text = str(invitation.state()), str(invitation.state().label)
        return format_html('<span data-account-state="{}">{}</span>', state, text)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = NewMemberForm
            kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["structure", "role", "username", "first_name", "last_name", "email"]
        return ["user", "structure", "role"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "structure"] if obj else []

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and getattr(form, "new_account", False):
            _invitation, sent = invitations.invite(obj.user, request.user, obj.structure.name)
            if sent:
                self.message_user(request, _("An invitation to choose a password was sent to %(email)s.")
                                  % {"email": obj.user.email}, messages.SUCCESS)
            else:
                self.message_user(request, _("The invitation could not be sent (mail server): send it again "
                                             "from the members list."), messages.ERROR)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "structure":
            kwargs["queryset"] = access.scope(Structure.objects.all(), request.user, "id", MANAGERS)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.user_id == request.user.pk and not request.user.is_superuser:
            return False  # nobody changes or removes their own role
        return super().has_change_permission(request, obj)
