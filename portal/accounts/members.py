"""A manager deactivates (or reactivates) a member of their structure.

Deactivating takes the membership's rights away at once, ends every session of the person
and closes their sockets (day view, rooms): they sign in again with what rights remain
elsewhere, or not at all when no active membership is left (the account is then inactive).
"""

from __future__ import annotations

from django.db import transaction

from portal.accounts import secondfactor, sessions
from portal.models import Membership


@transaction.atomic
def deactivate(membership: Membership, by) -> None:
    if membership.user_id == getattr(by, "pk", None):
        raise ValueError("nobody deactivates their own membership")
    membership.active = False
    membership.save(update_fields=["active"])
    user = membership.user
    if not user.is_superuser and not Membership.objects.filter(user=user, active=True).exists():
        user.is_active = False
        user.save(update_fields=["is_active"])
    secondfactor.forget_browsers(user)
    sessions.end_all(user, reason=f"membership {membership.pk} deactivated by user {getattr(by, 'pk', None)}")


@transaction.atomic
def reactivate(membership: Membership) -> None:
    membership.active = True
    membership.save(update_fields=["active"])
    if not membership.user.is_active:
        membership.user.is_active = True
        membership.user.save(update_fields=["is_active"])


@transaction.atomic
def reset_second_factor(membership: Membership, by) -> None:
    """The person lost their phone and recovery codes: their app, codes and remembered
    browsers are dropped and their sessions ended; at their next sign-in (with their own
    password, which nobody else knows) they enrol a new app."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if membership.user_id == getattr(by, "pk", None):
        raise ValueError("nobody resets their own second factor here")
    user = membership.user
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    secondfactor.forget_browsers(user)
    sessions.end_all(user, reason=f"second factor reset by user {getattr(by, 'pk', None)}")
