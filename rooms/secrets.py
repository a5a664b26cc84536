"""Room slugs and passwords: generated, encrypted at rest, compared in constant time.

The password must be resent to the citizen (reminder, helpdesk), so it is encrypted
(Fernet, key from ROOM_PASSWORD_KEY) rather than hashed; it is never stored in clear.
"""

from __future__ import annotations

import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

# Lower-case letters and digits without look-alikes (0/o, 1/l/i): readable aloud and on paper.
SLUG_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
SLUG_GROUPS, SLUG_GROUP_LEN = 4, 4  # 16 symbols of 31 ≈ 79 bits: not guessable
PASSWORD_DIGITS = 8  # digits are the easiest to type on a phone; attempts are rate-limited


def new_slug() -> str:
    return "-".join("".join(secrets.choice(SLUG_ALPHABET) for _ in range(SLUG_GROUP_LEN)) for _ in range(SLUG_GROUPS))


def new_password() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(PASSWORD_DIGITS))


def _fernet() -> Fernet:
    return Fernet(settings.ROOM_PASSWORD_KEY)


def encrypt(password: str) -> str:
    return _fernet().encrypt(password.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        # Wrong or rotated key: refuse loudly, never fall back to a guessable value.
        raise ValueError("room password cannot be decrypted with ROOM_PASSWORD_KEY") from None


def normalise(typed: str) -> str:
    """What the citizen typed, without the spaces/dashes people add when copying."""
    return "".join(ch for ch in (typed or "") if ch.isalnum())


def matches(token: str, typed: str) -> bool:
    return hmac.compare_digest(decrypt(token).encode(), normalise(typed).encode())
