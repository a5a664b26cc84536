"""Guichet Visio settings: everything comes from the environment.

The embedded defaults serve one machine with nothing installed (SQLite, in-memory
channel layer, Celery on a filesystem broker). Setting DATABASE_URL and REDIS_URL moves
to PostgreSQL and Redis. With DEBUG off, every secret must be given explicitly: a
production start with a missing secret fails loudly instead of running on a default.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state of the embedded default (SQLite file, Celery's filesystem queue).
VAR_DIR = Path(environ.Env().str("GV_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
env.read_env(BASE_DIR / ".env")  # optional, for developers; never committed

DEBUG = env.bool("DEBUG", default=False)
# A development key only when DEBUG is on; production must set SECRET_KEY.
_DEV_SECRET = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Base of every link we send to citizens (mails, SMS): the public address of the portal.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")


def _room_password_key() -> bytes:
    """Fernet key for room passwords: ROOM_PASSWORD_KEY, or derived in DEBUG only."""
    key = env.str("ROOM_PASSWORD_KEY", default="")
    if key:
        from cryptography.fernet import Fernet

        try:  # a malformed key would only fail at the first room saved or opened: fail now
            Fernet(key.encode())
        except ValueError:
            raise ImproperlyConfigured(
                "ROOM_PASSWORD_KEY is not a valid Fernet key (32 url-safe base64-encoded bytes; "
                "generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')."
            ) from None
        return key.encode()
    if not DEBUG:
        raise ImproperlyConfigured(
            "ROOM_PASSWORD_KEY must be set when DEBUG is off "
            "(generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')."
        )
    return base64.urlsafe_b64encode(hashlib.sha256(b"room-password:" + SECRET_KEY.encode()).digest())


ROOM_PASSWORD_KEY = _room_password_key()

INSTALLED_APPS = [
    "daphne",
    "portal.apps.PortalConfig",
    "rooms.apps.RoomsConfig",
    "notifications.apps.NotificationsConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_otp",  # second factor (portal/accounts/): TOTP, and recovery codes as static tokens
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "portal.security.PermissionsPolicyMiddleware",  # camera/mic only where allowed (portal/security.py)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # A signed-in staff member without a second factor is anonymous everywhere (portal/accounts/).
    "portal.accounts.middleware.SecondFactorMiddleware",
    "portal.middleware.StructureTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "portal.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

# --- Database: SQLite by default, PostgreSQL with DATABASE_URL=postgres://... ---
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'guichet.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (Daphne, Celery) share the file: wait on locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(VAR_DIR / "test.sqlite3")
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # One psycopg pool per process (Django's OPTIONS "pool"; persistent connections are not
    # for ASGI: each thread would keep its own). Daphne runs database calls in its executor
    # (ASGI_THREADS, default min(32, cores + 4)), the room handshakes in ROOM_HANDSHAKE_THREADS
    # (2), plus one thread for the views: keep
    # DATABASE_POOL_MAX at least that. A Celery worker child or beat uses one connection.
    # Connections are checked before use, so a PostgreSQL restart costs no request.
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # required with a pool
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # the pool checks a connection before lending it
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=0),  # none opened before use (Celery forks)
        "max_size": env.int("DATABASE_POOL_MAX", default=12),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10),  # waiting for a free connection
        "max_idle": 300,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and Celery broker when REDIS_URL is set ---
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis, surviving a Redis restart: it waits for Redis to come back and
            # subscribes this process's groups again (rooms/layer.py).
            "BACKEND": "rooms.layer.ResilientRedisChannelLayer",
            # capacity: channels_redis queues every socket of a process in ONE Redis key (the
            # process's inbox) and drops what is sent to it past `capacity` (100 by default:
            # "channels over capacity" in the log). A storm of connects in a busy process went
            # past 100 and lost admissions and chat (bench/signalling_load.py): room for
            # the bursts of a process's few thousand sockets (messages still expire after 60 s).
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNELS_PREFIX", default="gv"),
                       "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=10000),
                       # Redis connections per process, at most (rooms/layer.py: channels_redis's
                       # own pool opened one per command in flight and kept them all).
                       "pool_size": env.int("CHANNEL_LAYER_POOL", default=64)},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Presence leases (rooms/presence.py; rooms/PROTOCOL.md, "Presence") ---
# Each Daphne process renews its sockets' leases every HEARTBEAT and sweeps; a lease not
# renewed for LEASE seconds belongs to a dead process. A lost connection keeps its place
# for GRACE seconds. Celery beat sweeps too, every SWEEP seconds. PRESENCE_PROCESS_NAME
# (stable across restarts; default: host and Daphne's port) lets a restarted process clear
# its previous run's sockets at once.
PRESENCE_HEARTBEAT_SECONDS = env.float("PRESENCE_HEARTBEAT_SECONDS", default=5)
PRESENCE_LEASE_SECONDS = env.float("PRESENCE_LEASE_SECONDS", default=15)
PRESENCE_GRACE_SECONDS = env.float("PRESENCE_GRACE_SECONDS", default=20)
PRESENCE_SWEEP_SECONDS = env.float("PRESENCE_SWEEP_SECONDS", default=10)
PRESENCE_PROCESS_NAME = env.str("PRESENCE_PROCESS_NAME", default="")
# With the in-memory channel layer a sweeper can tell only its own sockets: it leaves
# another process's lapsed rows (Celery beat: all rows) to that process for this long.
PRESENCE_ABANDONED_SECONDS = env.float("PRESENCE_ABANDONED_SECONDS", default=60)
if PRESENCE_LEASE_SECONDS < 2 * PRESENCE_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured("PRESENCE_LEASE_SECONDS must be at least twice PRESENCE_HEARTBEAT_SECONDS.")

# --- Celery: Redis in production; a filesystem broker on one machine (no server) ---
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {}
    if REDIS_URL or not CELERY_BROKER_URL.startswith("filesystem")
    else {
        "data_folder_in": str(VAR_DIR / "celery" / "queue"),
        "data_folder_out": str(VAR_DIR / "celery" / "queue"),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),  # else kombu writes ./control
        "store_processed": False,
    }
)
for _folder in CELERY_BROKER_TRANSPORT_OPTIONS.values():
    if isinstance(_folder, str):
        Path(_folder).mkdir(parents=True, exist_ok=True)  # kombu does not create them
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a task killed mid-way is redelivered, never silently lost
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = "UTC"

# --- Auth, i18n, time ---
LOGIN_URL = "admin:login"  # agents sign in through the back-office
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# --- Agents' accounts (portal/accounts/, docs/accounts.md) ---
# An invitation's link sets the new member's own password, once, within INVITATION_HOURS;
# a reset link within PASSWORD_RESET_MINUTES. Reset requests: at most
# PASSWORD_RESET_MAX_PER_ADDRESS per client address and PASSWORD_RESET_MAX_PER_EMAIL per
# email address per hour (beyond, the same answer and no email).
INVITATION_HOURS = env.int("INVITATION_HOURS", default=72)
PASSWORD_RESET_TIMEOUT = 60 * env.int("PASSWORD_RESET_MINUTES", default=60)
PASSWORD_RESET_MAX_PER_ADDRESS = env.int("PASSWORD_RESET_MAX_PER_ADDRESS", default=10)
PASSWORD_RESET_MAX_PER_EMAIL = env.int("PASSWORD_RESET_MAX_PER_EMAIL", default=3)
# A browser remembered after a second factor asks for the password only, this many days at most.
REMEMBER_BROWSER_DAYS = env.int("REMEMBER_BROWSER_DAYS", default=30)
if not 0 <= REMEMBER_BROWSER_DAYS <= 90:
    raise ImproperlyConfigured("REMEMBER_BROWSER_DAYS is between 0 (never remember) and 90.")
# Between the password and the second factor, at most this long.
SECOND_FACTOR_STEP_SECONDS = env.int("SECOND_FACTOR_STEP_SECONDS", default=300)
OTP_TOTP_ISSUER = "Guichet Visio"
# Wrong codes are throttled by Axes with wrong passwords (one count per user and per address,
# portal/accounts/secondfactor.py), not by django-otp's own per-device delays on top.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
# django-otp's admin pages (superusers) never show a device's secret, QR code or recovery codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Europe/Paris"  # default zone; each structure has its own
USE_TZ = True
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="FR")

# --- Static files (served by WhiteNoise; no third-party host) and uploads ---
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# `media/` is our media server package, not uploads: Django's MEDIA_ROOT points elsewhere
# (we accept no uploads anyway).
MEDIA_ROOT = VAR_DIR / "uploads"
MEDIA_URL = "uploads/"

# --- Security: strict by default, relaxed only for local http in DEBUG ---
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_PROXY", default=False) else None
# --- Client address behind reverse proxies (portal/clientaddress.py) ---
# The proxies in front of Daphne: a hop count ("1") and/or addresses and CIDR networks.
# Empty: X-Forwarded-For is ignored and REMOTE_ADDR is the client.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
try:
    from portal.clientaddress import parse_trusted  # noqa: E402

    parse_trusted(TRUSTED_PROXIES)
except ValueError as error:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES: {error}") from error
# --- end client address ---
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
from django.utils.csp import CSP  # noqa: E402  (Django 6's built-in CSP)

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],  # the admin's inline styles
    "img-src": [CSP.SELF, "data:", "blob:"],
    "media-src": [CSP.SELF, "blob:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

# --- Email (Django's framework; SMTP in production) ---
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    # In DEBUG, the console with the text decoded (Django's prints quoted-printable links).
    default="notifications.console_email.DecodedConsoleEmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Guichet Visio <ne-pas-repondre@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Rooms ---
# How long before the start a citizen's link opens, and after the end it stays open.
ROOM_OPENS_MINUTES_BEFORE = env.int("ROOM_OPENS_MINUTES_BEFORE", default=30)
ROOM_CLOSES_MINUTES_AFTER = env.int("ROOM_CLOSES_MINUTES_AFTER", default=30)
# Admission control of room sockets, per Daphne process (rooms/admission.py): handshakes in
# flight at once (each is a few database calls in the thread pool: about twice its threads),
# open sockets at most, and how long a handshake may take before it is refused as BUSY: well
# under Daphne's --websocket_connect_timeout (30 s in deploy/Procfile; 5 s by default), past
# which Daphne resets the connection and nginx takes that Daphne for dead. Refused browsers
# come back within the hint (1 to ROOM_BUSY_MAX_RETRY s; ROOM_SOCKETS_FULL_RETRY when the
# sockets are full) plus jitter. With ROOM_HANDSHAKE_QUEUE_WAIT > 0, a handshake finding
# every slot taken waits for one if those waiting before it can be served within that many
# seconds at the process's pace (a refusal costs Daphne about half a handshake, and the
# browser seconds); the wait plus ROOM_HANDSHAKE_TIMEOUT must stay well under Daphne's
# --websocket_connect_timeout. 6 s by default: on the survivor of a killed process (its ~280
# sockets arrive within a second) nearly every reconnection waits its turn instead of being
# refused and coming back seconds later: everyone back in 5.2-9.9 s in 10 runs of 12 at load
# 1.3-10.5 with 0-37 refusals (14.4 s at load 12.9; one run left a participant's chat
# unechoed), where 4 s took 8.2-13.6 s (24-156 refusals, before the pace per CPU second of
# rooms/admission.py); two 10-minute soaks with it met every target (README,
# bench/signalling_load.py). 6 s of wait plus the 3 s handshake limit: 9 s, well under the
# 30 s of deploy/Procfile (the gate's watchdog, 1 s after the limit, ends at 10 s at worst,
# the bench client's patience). 0: refused at once.
ROOM_MAX_HANDSHAKES = env.int("ROOM_MAX_HANDSHAKES", default=12)
ROOM_MAX_SOCKETS = env.int("ROOM_MAX_SOCKETS", default=4000)
ROOM_HANDSHAKE_TIMEOUT = env.float("ROOM_HANDSHAKE_TIMEOUT", default=3.0)
ROOM_HANDSHAKE_QUEUE_WAIT = env.float("ROOM_HANDSHAKE_QUEUE_WAIT", default=6.0)
# Threads of a Daphne process for the room handshakes' database calls, apart from the
# ASGI_THREADS that run every socket's messages (rooms/dbcall.py; 0: shared with them).
ROOM_HANDSHAKE_THREADS = env.int("ROOM_HANDSHAKE_THREADS", default=2)
ROOM_BUSY_MAX_RETRY = env.int("ROOM_BUSY_MAX_RETRY", default=10)
ROOM_SOCKETS_FULL_RETRY = env.int("ROOM_SOCKETS_FULL_RETRY", default=30)
# Seconds a thread of a Daphne process may hold the GIL while its event loop waits for it
# (Python's default 0.005; 0: left as is): portal/daphne_tuning.py.
ASGI_SWITCH_INTERVAL = env.float("ASGI_SWITCH_INTERVAL", default=0.001)
# Chat replayed to a (re)connecting participant: its last messages since its admission.
ROOM_CHAT_REPLAY = env.int("ROOM_CHAT_REPLAY", default=200)

# One handler, on the root logger: every line is printed once. Django's own default config
# adds a console handler to "django" (in DEBUG) that would print its lines a second time
# through the root: "django" gets no handler of its own. ICE/WebRTC libraries log every
# candidate pair at INFO: WARNING unless MEDIA_LOG_LEVEL says otherwise.
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "{levelname} {name}: {message}", "style": "{"}},
    # Django's request and security lines name the path: tokens out (portal/logprivacy.py).
    "filters": {"redact_paths": {"()": "portal.logprivacy.RedactPaths"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_paths"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        **{name: {"level": env.str("MEDIA_LOG_LEVEL", default="WARNING")} for name in ("aioice", "aiortc")},
    },
}

# --- Back-office login throttling (django-axes; failures and lockouts in the admin) ---
# LOGIN_LOCKOUT_PARAMETERS: comma-separated, each counted on its own; "+" joins a combination.
# Default: a user locked after LOGIN_FAILURE_LIMIT failures from any address (slow, distributed
# guessing), and an address locked after as many failures on any user names (spraying).
# Locked logins answer 429 until LOGIN_LOCKOUT_MINUTES have passed since the last failure,
# even with the right password; a superuser can unlock earlier in the admin (Axes).
INSTALLED_APPS.append("axes")
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # last, as Axes requires
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [
    p.split("+") if "+" in p else p for p in env.list("LOGIN_LOCKOUT_PARAMETERS", default=["username", "ip_address"])
]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # each failure kept (who, address, when), not only the count
AXES_SENSITIVE_PARAMETERS: list[str] = []  # log the user name and address (never the password)
AXES_VERBOSE = False  # no banner at each start; failures and lockouts are still logged
# The project's client address (the one the join page's limits use), so a change of proxy
# policy applies to both.
AXES_CLIENT_IP_CALLABLE = "portal.clientaddress.from_request"
# Its log lines: the user name and the address's network only (portal/logprivacy.py).
AXES_CLIENT_STR_CALLABLE = "portal.logprivacy.axes_client"
AXES_LOCKOUT_CALLABLE = "portal.security.login_locked"
# --- end of login throttling block ---

# Requests for another time one citizen's link may send within a day (portal/citizen.py):
# beyond, the page asks them to wait for the agent's answer or to call.
CITIZEN_MAX_CHANGE_REQUESTS = env.int("CITIZEN_MAX_CHANGE_REQUESTS", default=3)

# --- Join page brute-force limits ---
JOIN_MAX_FAILURES_PER_ADDRESS = env.int("JOIN_MAX_FAILURES_PER_ADDRESS", default=5)
JOIN_MAX_FAILURES_PER_ROOM = env.int("JOIN_MAX_FAILURES_PER_ROOM", default=20)
JOIN_LOCKOUT_MINUTES = env.int("JOIN_LOCKOUT_MINUTES", default=15)
# A room under attack (JOIN_MAX_FAILURES_PER_ROOM wrong codes) is never locked: an address
# that failed there waits this long before its next try, doubling with the attack
# (rooms/joinlimits.py).
JOIN_SLOW_SECONDS = env.int("JOIN_SLOW_SECONDS", default=60)

# --- Media (our aiortc engine, in-process by default) ---
MEDIA_ENGINE_MODE = env.str("MEDIA_ENGINE_MODE", default="passthrough")  # or "relay" (decode + re-encode)
# RED for audio (media/engine/red.py) where the browser offers it; off only to measure what it
# brings (bench/weak_network_bench.py --no-red).
MEDIA_AUDIO_RED = env.bool("MEDIA_AUDIO_RED", default=True)
# RED + ULPFEC for the browsers' video (media/engine/ulpfec.py: the engine rebuilds a lost
# packet without a round trip); off only to measure it (bench/weak_network_bench.py --no-video-fec).
MEDIA_VIDEO_FEC = env.bool("MEDIA_VIDEO_FEC", default=True)
# The playout delay the engine asks of a publisher's viewers while its uplink's losses are
# repaired (media/engine/playout_hint.py); off only to measure it (bench/weak_network_bench.py
# --no-playout-hint).
MEDIA_PLAYOUT_HINT = env.bool("MEDIA_PLAYOUT_HINT", default=True)
# NACKs to a publisher and retransmissions to a subscriber sent twice on a hop that loses 2% or
# more (media/engine/repeat.py); off only to measure it
# (bench/weak_network_bench.py --no-repair-repeat).
MEDIA_REPAIR_REPEAT = env.bool("MEDIA_REPAIR_REPEAT", default=True)
# STUN/TURN servers given to browsers and to the engine, JSON list of RTCIceServer dicts.
ICE_SERVERS = env.json("ICE_SERVERS", default=[])
# Tests on a machine with only loopback: make aioice offer 127.0.0.1 (see docs/browser-tests.md).
ICE_LOOPBACK_ONLY = env.bool("GV_TEST_LOOPBACK_ICE", default=False)
# "inprocess": the engine runs inside each ASGI process (one machine). "remote": rooms are
# placed by load on `manage.py medianode` processes (needs REDIS_URL).
MEDIA_NODES = env.str("MEDIA_NODES", default="inprocess")
if MEDIA_NODES not in ("inprocess", "remote") or (MEDIA_NODES == "remote" and not REDIS_URL):
    raise ImproperlyConfigured("MEDIA_NODES is 'inprocess' or 'remote' (remote needs REDIS_URL).")
MEDIA_REDIS_PREFIX = env.str("MEDIA_REDIS_PREFIX", default="")
MEDIA_NODE_MAX_AGE = env.float("MEDIA_NODE_MAX_AGE", default=3.0)  # seconds without news: dead
MEDIA_NODE_MAX_TRACKS = env.int("MEDIA_NODE_MAX_TRACKS", default=400)  # above: no new rooms
MEDIA_NODE_MAX_CPU = env.float("MEDIA_NODE_MAX_CPU", default=0.85)  # fraction of one core
# `medianode` processes run on uvloop (~10% less CPU); 0 for asyncio's loop. Not the
# in-process engine: Daphne's Twisted reactor owns that loop.
MEDIA_UVLOOP = env.bool("MEDIA_UVLOOP", default=True)
IDCHECK_TIMEOUT = env.float("IDCHECK_TIMEOUT", default=20.0)  # seconds before "unreadable"
# Media nodes behind a firewall / 1:1 NAT: the UDP ports to bind ("40000-40999") and the
# public address to announce in SDP instead of the machine's own.
MEDIA_UDP_PORTS = env.str("MEDIA_UDP_PORTS", default="")
MEDIA_PUBLIC_IP = env.str("MEDIA_PUBLIC_IP", default="")

# --- TURN relay with short-lived credentials (issue 12, item 6; media/turn.py, rooms/ice.py) ---
# coturn with `use-auth-secret`: each participant gets a username "<expiry>:<id>" and
# base64(HMAC-SHA1(TURN_SECRET, username)) at page render and at every WebSocket
# (re)connection. TURN_URLS: comma-separated, e.g. "turn:turn.mairie.fr:3478?transport=udp,
# turn:turn.mairie.fr:3478?transport=tcp,turns:turn.mairie.fr:443?transport=tcp".
# ICE_SERVERS above stays for STUN (or TURN servers with fixed credentials).
TURN_URLS = env.list("TURN_URLS", default=[])
TURN_SECRET = env.str("TURN_SECRET", default="")  # coturn's static-auth-secret; only from the environment
TURN_TTL_SECONDS = env.int("TURN_TTL_SECONDS", default=4 * 3600)  # longer than an appointment's window
# The engine itself allocates a relay too (media nodes that browsers cannot reach directly);
# off by default: a node with a reachable address needs none, and each relay costs coturn.
MEDIA_USE_TURN = env.bool("MEDIA_USE_TURN", default=False)
if TURN_URLS:
    from media.turn import check_turn_url  # noqa: E402  (plain Python, no Django)

    try:
        for _url in TURN_URLS:
            check_turn_url(_url)
    except ValueError as _error:
        raise ImproperlyConfigured(f"TURN_URLS: {_error}")
    if len(TURN_SECRET) < 16:
        raise ImproperlyConfigured("TURN_URLS needs TURN_SECRET (coturn's static-auth-secret, 16+ characters).")
    if TURN_TTL_SECONDS < 60:
        raise ImproperlyConfigured("TURN_TTL_SECONDS is at least 60.")

# --- Notifications (confirmation, reminder, notices; see notifications/delivery.py) ---
# Backends are dotted paths, like EMAIL_BACKEND: notifications.backends.{email.EmailBackend,
# twilio_sms.TwilioBackend, console.ConsoleBackend, memory.MemoryBackend}. Email goes
# through Django's EMAIL_BACKEND (SMTP in production, the console in DEBUG).
NOTIFICATIONS_EMAIL_BACKEND = env.str(
    "NOTIFICATIONS_EMAIL_BACKEND", default="notifications.backends.email.EmailBackend"
)
# Twilio: no defaults. With TWILIO_* unset the Twilio backend refuses every SMS with a clear
# error (the row fails, the email fallback is used); in DEBUG, SMS go to the console.
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")  # or:
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
# Delivery reports: the public URL of notifications' Twilio webhook, also the URL whose
# signature is checked (so it must be exactly what Twilio calls). Default: SITE_URL + path;
# set it empty to send no callback URL (a messaging service's own setting then applies).
TWILIO_STATUS_CALLBACK_URL = env.str("TWILIO_STATUS_CALLBACK_URL", default=f"{SITE_URL}/notifications/twilio/status/")
# Replies (STOP/START): the public URL of the inbound-SMS webhook, as configured on the Twilio
# number ("A message comes in"), also the URL whose signature is checked.
TWILIO_INBOUND_URL = env.str("TWILIO_INBOUND_URL", default=f"{SITE_URL}/notifications/twilio/inbound/")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="")  # only for a local stand-in of Twilio's API
TWILIO_TIMEOUT_SECONDS = env.float("TWILIO_TIMEOUT_SECONDS", default=10)
# Telephone (rooms/phone/, README "Telephone"): a structure's voice number (back-office) calls
# PHONE_VOICE_URL ("A call comes in", POST); the code typed goes to PHONE_CODE_URL, Twilio's
# call status reports to PHONE_STATUS_URL; these are also the URLs whose signature is checked
# (exactly what Twilio calls). The caller's audio streams to PHONE_STREAM_URL (wss://).
PHONE_VOICE_URL = env.str("PHONE_VOICE_URL", default=f"{SITE_URL}/phone/voice/")
PHONE_CODE_URL = env.str("PHONE_CODE_URL", default=f"{SITE_URL}/phone/voice/code/")
PHONE_STATUS_URL = env.str("PHONE_STATUS_URL", default=f"{SITE_URL}/phone/status/")
PHONE_STREAM_URL = env.str(
    "PHONE_STREAM_URL", default=SITE_URL.replace("https://", "wss://").replace("http://", "ws://") + "/ws/phone/stream/"
)
PHONE_TOKEN_SECONDS = env.int("PHONE_TOKEN_SECONDS", default=60)  # TwiML issued → stream opened
PHONE_CODE_ATTEMPTS = env.int("PHONE_CODE_ATTEMPTS", default=3)  # wrong codes before goodbye
PHONE_START_SECONDS = env.float("PHONE_START_SECONDS", default=10)  # stream opened → valid `start`
PHONE_CALL_MARGIN_MINUTES = env.int("PHONE_CALL_MARGIN_MINUTES", default=30)  # cut after the end + this
if not (PHONE_VOICE_URL.startswith(("http://", "https://")) and PHONE_STREAM_URL.startswith(("ws://", "wss://"))):
    raise ImproperlyConfigured("PHONE_VOICE_URL is http(s)://…, PHONE_STREAM_URL is ws(s)://….")
# Recipients (E.164 prefixes) to which a structure's alphanumeric SMS sender is used: metropolitan
# France. Overseas operators (+262, +590, +594, +596, +508, +687, +689, +269) do not all deliver
# alphanumeric senders; those numbers get TWILIO_FROM_NUMBER / the messaging service's number.
NOTIFICATIONS_SMS_ALPHANUMERIC_PREFIXES = env.list("NOTIFICATIONS_SMS_ALPHANUMERIC_PREFIXES", default=["+33"])
NOTIFICATIONS_SMS_BACKEND = env.str(
    "NOTIFICATIONS_SMS_BACKEND",
    default="notifications.backends.console.ConsoleBackend"
    if DEBUG and not TWILIO_ACCOUNT_SID
    else "notifications.backends.twilio_sms.TwilioBackend",
)
# Temporary errors are retried after base·2^(attempt−1) seconds (capped), until the start.
NOTIFICATIONS_RETRY_BASE_SECONDS = env.float("NOTIFICATIONS_RETRY_BASE_SECONDS", default=30)
NOTIFICATIONS_RETRY_MAX_SECONDS = env.float("NOTIFICATIONS_RETRY_MAX_SECONDS", default=300)
# Early fallback: after this many temporary failures, or when a reminder would have less
# than .._REMINDER_FALLBACK_MINUTES left, or a confirmation would still be trying after
# .._CONFIRMATION_FALLBACK_MINUTES, the message goes on the citizen's other channel.
NOTIFICATIONS_FALLBACK_AFTER_FAILURES = env.int("NOTIFICATIONS_FALLBACK_AFTER_FAILURES", default=2)
NOTIFICATIONS_REMINDER_FALLBACK_MINUTES = env.float("NOTIFICATIONS_REMINDER_FALLBACK_MINUTES", default=10)
NOTIFICATIONS_CONFIRMATION_FALLBACK_MINUTES = env.float("NOTIFICATIONS_CONFIRMATION_FALLBACK_MINUTES", default=5)
# A provider refusing our credentials shows in the back-office banner this long (portal/health.py).
PROVIDER_ALERT_MINUTES = env.int("PROVIDER_ALERT_MINUTES", default=60)
# A claim older than this belongs to a dead worker (longer than any provider timeout).
NOTIFICATIONS_CLAIM_TIMEOUT_SECONDS = env.float("NOTIFICATIONS_CLAIM_TIMEOUT_SECONDS", default=120)
# Tasks are queued at most this far ahead (under the Redis visibility timeout, 1 h); the
# sweep queues later ones as they come close, and re-queues any row still waiting this
# long (grace) after its due time.
NOTIFICATIONS_SCHEDULE_HORIZON_SECONDS = env.int("NOTIFICATIONS_SCHEDULE_HORIZON_SECONDS", default=1800)
NOTIFICATIONS_SWEEP_GRACE_SECONDS = env.float("NOTIFICATIONS_SWEEP_GRACE_SECONDS", default=90)
NOTIFICATIONS_SWEEP_SECONDS = env.float("NOTIFICATIONS_SWEEP_SECONDS", default=60)
NOTIFICATIONS_SWEEP_LIMIT = env.int("NOTIFICATIONS_SWEEP_LIMIT", default=20000)
NOTIFICATIONS_BATCH_SIZE = env.int("NOTIFICATIONS_BATCH_SIZE", default=25)  # notifications per task
# Many planned reminders due at the same time are handed out ahead, at this many messages
# per second (about what the workers send), the last on time, none more than
# NOTIFICATIONS_EARLY_SECONDS ahead (notifications/tasks.py, `batches`).
NOTIFICATIONS_RELEASE_RATE = env.float("NOTIFICATIONS_RELEASE_RATE", default=100)
NOTIFICATIONS_EARLY_SECONDS = env.float("NOTIFICATIONS_EARLY_SECONDS", default=120)
# The day-before message (device-test link; off per structure) goes this long before the
# start, unless the booking is so close that it would follow the confirmation within the gap.
NOTIFICATIONS_DAY_BEFORE_MIN_GAP_MINUTES = env.int("NOTIFICATIONS_DAY_BEFORE_MIN_GAP_MINUTES", default=120)
# Celery beat (`celery -A portal worker -B` on one machine, or one `celery -A portal beat`).
CELERY_BEAT_SCHEDULE = {
    "notifications-sweep": {"task": "notifications.sweep", "schedule": NOTIFICATIONS_SWEEP_SECONDS},
}
# --- Operations: health endpoints and Celery heartbeats (portal/health.py) ---
# Beat publishes `portal.heartbeat` every HEARTBEAT_SECONDS (its own heartbeat) and a worker
# runs it (the worker's); either older than HEARTBEAT_MAX_AGE: /readyz answers 503 and the
# back-office shows an alert. /healthz and /readyz answer plain HTTP probes (no SSL redirect).
HEARTBEAT_SECONDS = env.float("HEARTBEAT_SECONDS", default=30)
HEARTBEAT_MAX_AGE = env.float("HEARTBEAT_MAX_AGE", default=120)
CELERY_BEAT_SCHEDULE["rooms-presence-sweep"] = {
    "task": "rooms.sweep_presence", "schedule": PRESENCE_SWEEP_SECONDS,
    "options": {"expires": PRESENCE_SWEEP_SECONDS},  # a late sweep is replaced by the next one
}
CELERY_BEAT_SCHEDULE["portal-heartbeat"] = {
    "task": "portal.heartbeat", "schedule": HEARTBEAT_SECONDS,
    "options": {"expires": HEARTBEAT_MAX_AGE},  # a worker back after an outage skips the old ones
}
# Retention purge (portal/retention.py, `manage.py purge`): beat runs it every
# RETENTION_PURGE_SECONDS; the structure's retention_days covers the appointments' personal
# fields, these deployment-wide delays the rest. Statistics counters (portal/stats/counters.py)
# count an appointment STATISTICS_SETTLE_HOURS after its end, before anything of it is purged.
RETENTION_ADDRESS_DAYS = env.int("RETENTION_ADDRESS_DAYS", default=7)  # join attempts, sign-in attempts
RETENTION_IDCHECK_DAYS = env.int("RETENTION_IDCHECK_DAYS", default=365)  # ID-check audit lines
RETENTION_SMS_PROVIDER_DAYS = env.int("RETENTION_SMS_PROVIDER_DAYS", default=7)  # Twilio's message records
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=500)
RETENTION_PURGE_SECONDS = env.float("RETENTION_PURGE_SECONDS", default=3600)
STATISTICS_SETTLE_HOURS = env.int("STATISTICS_SETTLE_HOURS", default=24)
CELERY_BEAT_SCHEDULE["portal-retention-purge"] = {
    "task": "portal.purge", "schedule": RETENTION_PURGE_SECONDS,
    "options": {"expires": RETENTION_PURGE_SECONDS},  # a late purge is replaced by the next one
}
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# --- end of operations block ---
CELERY_BEAT_SCHEDULE_FILENAME = env.str("CELERY_BEAT_SCHEDULE_FILENAME", default=str(VAR_DIR / "celery" / "beat"))
# --- Deploying (issue 12): beat starts on a fresh checkout whatever the broker (var/celery/
# is otherwise only made for the filesystem broker); CELERY_QUEUE keeps two portals (or test
# runs) sharing one Redis from taking each other's tasks. ---
Path(CELERY_BEAT_SCHEDULE_FILENAME).parent.mkdir(parents=True, exist_ok=True)
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
# The Twilio SDK logs every API request's headers at INFO: keep that out of the logs.
LOGGING["loggers"]["twilio.http_client"] = {"level": env.str("TWILIO_LOG_LEVEL", default="WARNING")}

# Legal pages every citizen page links to (portal/legal.py): who publishes the service, and
# where to write about accessibility (RGAA statement) and personal data (RGPD art. 13).
# Empty contacts: the pages send citizens to the structure that gave the appointment.
PUBLISHER_NAME = env.str("PUBLISHER_NAME", default="")
ACCESSIBILITY_CONTACT = env.str("ACCESSIBILITY_CONTACT", default="")
PRIVACY_CONTACT = env.str("PRIVACY_CONTACT", default="")
# Date of the last accessibility self-audit (docs/accessibility-audit.md), shown on the statement.
ACCESSIBILITY_AUDIT_DATE = env.str("ACCESSIBILITY_AUDIT_DATE", default="2026-11-28")
