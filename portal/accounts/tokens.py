"""Links sent by email: Django's password-reset token machinery, for invitations too.

A token is bound to the account's current password hash, so it works once: setting the
password ends it. Reset tokens expire after PASSWORD_RESET_TIMEOUT (Django's own
generator); invitation tokens after INVITATION_HOURS, and are also bound to the
invitation's last sending and revocation, so re-sending ends the previous link and
revoking ends the current one.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes, force_str
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode

reset_tokens = default_token_generator
UID_MAX_LENGTH, TOKEN_MAX_LENGTH = 32, 64  # longer input is refused before any decoding


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "portal.accounts.tokens.InvitationTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        invitation = getattr(user, "invitation", None)
        sent = "" if invitation is None else invitation.sent_at.isoformat()
        revoked = "" if invitation is None or invitation.revoked_at is None else "revoked"
        return f"{super()._make_hash_value(user, timestamp)}{sent}{revoked}"

    def check_token(self, user, token):
        if not (user and token) or getattr(user, "invitation", None) is None:
            return False
        try:
            ts = base36_to_int(token.split("-")[0])
        except ValueError:
            return False
        if not any(constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token)
                   for secret in [self.secret, *self.secret_fallbacks]):
            return False
        return self._num_seconds(self._now()) - ts <= settings.INVITATION_HOURS * 3600


invitation_tokens = InvitationTokenGenerator()


def uid_of(user) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def user_from(uidb64: str):
    """The account a link's uid names, or None (whatever the input)."""
    from django.contrib.auth import get_user_model

    if len(uidb64) > UID_MAX_LENGTH:
        return None
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    if not 0 < pk < 2**63:
        return None
    return get_user_model().objects.filter(pk=pk).select_related("invitation").first()
