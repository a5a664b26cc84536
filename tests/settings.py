"""Test settings: production settings with test secrets, fast hashing, no HTTPS redirect.

DATABASE_URL / REDIS_URL from the environment still apply, so CI runs on PostgreSQL.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("ROOM_PASSWORD_KEY", "u0mUjvmlXfIHOtFnYmm6pWPOC84qRJ4UTnJWhMNQh3k=")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("SITE_URL", "https://visio.example.fr")
os.environ.setdefault("SECURE_SSL_REDIRECT", "False")
os.environ.setdefault("SESSION_COOKIE_SECURE", "False")
os.environ.setdefault("CSRF_COOKIE_SECURE", "False")
os.environ["DEBUG"] = "False"
# A room handshake refused as late (BUSY past ROOM_HANDSHAKE_TIMEOUT, 3 s in production) is
# proved by tests/rooms/test_admission.py with its own values; elsewhere, a CI machine whose
# two cores also run browsers and Daphnes must not turn a slow handshake into a refusal.
# Set in the environment so that the Daphne processes the tests start inherit it.
os.environ.setdefault("ROOM_HANDSHAKE_TIMEOUT", "20")

from portal.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Unit tests do not collect static files, so they use the plain storage; the manifest
# storage and WhiteNoise as deployed are tested by tests/production (collectstatic, Daphne).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# WhiteNoise stays in the middleware, as in production; nothing is collected for unit tests.
STATIC_ROOT = VAR_DIR / "test-static"  # noqa: F405
STATIC_ROOT.mkdir(exist_ok=True)

# One test database per test process: parallel runs on one machine must not share it.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"]["NAME"] = str(VAR_DIR / f"test-{os.getpid()}.sqlite3")  # noqa: F405
else:
    DATABASES["default"].setdefault("TEST", {})["NAME"] = f"test_guichet_{os.getpid()}"  # noqa: F405
