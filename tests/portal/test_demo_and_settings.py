"""The demo command, and settings taken from the environment."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from portal.models import Appointment, Membership
from rooms.models import Room

ROOT = Path(__file__).resolve().parents[2]


def test_demo_creates_users_and_an_appointment_in_16_minutes(db, capsys):
    from django.utils import timezone

    call_command("demo")
    out = capsys.readouterr().out
    appointment = Appointment.objects.get()
    room = Room.objects.get(appointment=appointment)
    assert 15 * 60 <= (appointment.start - timezone.now()).total_seconds() <= 16 * 60
    assert room.join_url in out and f"Room password: {room.password}" in out
    assert "/admin/" in out and "/admin/day/" in out
    assert f"{settings.SITE_URL}/rdv/" in out and "/test/" in out  # the device test link
    assert set(Membership.objects.values_list("role", flat=True)) == {"agent", "manager", "helpdesk"}


def test_demo_run_again_moves_its_one_appointment_to_16_minutes_from_now(db, capsys):
    """`./dev run` calls demo at each start: one demo appointment, not one more per restart."""
    import datetime as dt

    from django.utils import timezone

    call_command("demo")
    first = Appointment.objects.get()
    Appointment.objects.filter(pk=first.pk).update(start=timezone.now() - dt.timedelta(days=1))  # yesterday's
    capsys.readouterr()
    call_command("demo")
    out = capsys.readouterr().out
    appointment = Appointment.objects.get()  # still one
    room = Room.objects.get(appointment=appointment)
    assert appointment.pk == first.pk and Room.objects.count() == 1 and Membership.objects.count() == 3
    assert 15 * 60 <= (appointment.start - timezone.now()).total_seconds() <= 16 * 60
    assert f"Citizen link: {room.join_url}\n" in out and f"Room password: {room.password}\n" in out


def run_manage(*args, env):
    # A clean environment: only what the command needs, nothing from the test settings.
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "portal.settings",
    "SECRET_KEY": "x" * 20 + "production-like-secret-key-with-enough-entropy-4f9a",
    "ROOM_PASSWORD_KEY": "u0mUjvmlXfIHOtFnYmm6pWPOC84qRJ4UTnJWhMNQh3k=",
    "ALLOWED_HOSTS": "visio.mairie.example.fr",
    "SITE_URL": "https://visio.mairie.example.fr",
    "DATABASE_URL": "postgres://guichet@127.0.0.1:5432/guichet",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_check_deploy_passes_with_production_values():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_secrets():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = run_manage("check", env=env)
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
    env = {k: v for k, v in PRODUCTION.items() if k != "ROOM_PASSWORD_KEY"}
    result = run_manage("check", env=env)
    assert result.returncode != 0 and "ROOM_PASSWORD_KEY must be set" in result.stderr


def test_environment_selects_postgres_and_redis():
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE']);"
        "print(s.CHANNEL_LAYERS['default']['BACKEND']);"
        "print(s.CELERY_BROKER_URL)"
    )
    prod = run_manage("shell", "--no-imports", "-c", code + ";print(s.DATABASES['default']['OPTIONS']['pool']"
                      "['max_size'], s.DATABASES['default']['CONN_MAX_AGE'])", env=PRODUCTION)
    assert prod.stdout.split() == [
        "django.db.backends.postgresql",
        "rooms.layer.ResilientRedisChannelLayer",
        "redis://127.0.0.1:6379/0",
        "12", "0",  # one psycopg pool per process, no persistent connections (ASGI)
    ], prod.stderr
    embedded_env = {"DEBUG": "1", "DJANGO_SETTINGS_MODULE": "portal.settings"}
    embedded = run_manage("shell", "--no-imports", "-c", code, env=embedded_env)
    assert embedded.stdout.split() == [
        "django.db.backends.sqlite3",
        "channels.layers.InMemoryChannelLayer",
        "filesystem://",
    ], embedded.stderr
