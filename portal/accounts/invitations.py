"""Invitations: a manager adds a person, the person sets their own password from an email.

The manager never sees nor types a password: a new account is created with an unusable
one, and the invitation's link (tokens.invitation_tokens: expiring, single-use) lets its
owner choose theirs. Re-send (a new link; the previous one stops working) and revoke
from the members list (portal/admin/structures.py), which shows each invitation's state.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from portal.accounts.tokens import invitation_tokens, uid_of
from portal.models import Invitation, InvitationState

log = logging.getLogger("portal.accounts")


class InvitationError(ValueError):
    """The invitation cannot be sent, re-sent or revoked in its state."""


def link(user) -> str:
    path = reverse("accounts:invitation", kwargs={"uidb64": uid_of(user), "token": invitation_tokens.make_token(user)})
    return settings.SITE_URL + path


def _send(invitation: Invitation, structure_name: str) -> bool:
    """Send the link now; False (logged) if the mail server refused it: the manager is told
    and can re-send."""
    user = invitation.user
    context = {"user": user, "link": link(user), "structure": structure_name, "hours": settings.INVITATION_HOURS,
               "site_url": settings.SITE_URL}
    with translation.override(settings.LANGUAGE_CODE):
        subject = render_to_string("portal/accounts/invitation_subject.txt", context).strip()
        body = render_to_string("portal/accounts/invitation_email.txt", context)
    try:
        EmailMultiAlternatives(subject, body, to=[user.email]).send()
    except Exception:
        log.exception("invitation to user %s could not be sent", user.pk)
        return False
    log.info("invitation sent to user %s (%d time(s))", user.pk, invitation.sent_count)
    return True


def invite(user, by, structure_name: str) -> tuple[Invitation, bool]:
    """A new account (unusable password, no invitation yet): create and send its invitation."""
    if user.has_usable_password():
        raise InvitationError("this account already has a password")
    if not user.email:
        raise InvitationError("an invitation needs an email address")
    invitation = Invitation.objects.create(user=user, sent_by=by)
    user.invitation = invitation
    return invitation, _send(invitation, structure_name)


def resend(invitation: Invitation, by, structure_name: str) -> bool:
    """A new link (the previous one stops working), also after a revocation or expiry."""
    if invitation.state() == InvitationState.ACCEPTED:
        raise InvitationError("this invitation was accepted")
    invitation.sent_at, invitation.sent_by, invitation.revoked_at = timezone.now(), by, None
    invitation.sent_count += 1
    invitation.save(update_fields=["sent_at", "sent_by", "revoked_at", "sent_count"])
    return _send(invitation, structure_name)


def revoke(invitation: Invitation) -> None:
    if invitation.state() == InvitationState.ACCEPTED:
        raise InvitationError("this invitation was accepted")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])


def check(user, token: str) -> bool:
    invitation = getattr(user, "invitation", None)
    return (invitation is not None and invitation.state() == InvitationState.PENDING
            and invitation_tokens.check_token(user, token))


@transaction.atomic
def accept(user, password: str) -> None:
    """The owner's own password (already validated): the link is used up."""
    user.set_password(password)
    user.save(update_fields=["password"])
    Invitation.objects.filter(user=user).update(accepted_at=timezone.now())
