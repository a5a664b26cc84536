"""Factories for the personas of the tests (factory_boy)."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from portal import booking
from portal.models import Appointment, Channel, Membership, Role, Structure


class StructureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Structure

    name = factory.Sequence(lambda n: f"Mairie n°{n}")
    helpdesk_phone = "+33238000000"
    helpdesk_email = "accueil@mairie.example.fr"
    time_zone = "Europe/Paris"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Camille"
    last_name = factory.Sequence(lambda n: f"Agent{n}")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests")

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def member(structure: Structure, role: str = Role.AGENT, **user_fields):
    user = UserFactory(**user_fields)
    Membership.objects.create(user=user, structure=structure, role=role)
    return user


TOTP_KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test secret (hex), for every test device


def totp_device(user):
    """The user's confirmed authenticator app (one per user), with the tests' known secret."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=True,
                                                 defaults={"name": "test app", "key": TOTP_KEY})
    return device


def totp_code(device, at: float | None = None) -> str:
    """The code the app shows at time `at` (now by default), computed from the shared secret.
    The app knows nothing of the drift the server has learnt for it (device.drift)."""
    import time

    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, drift=0)
    totp.time = time.time() if at is None else at
    return f"{totp.token():0{device.digits}d}"


def next_totp_code(user) -> str:
    """A code the server accepts now for `user`'s app. The server looks for the code at the
    time steps now + drift +/- tolerance (drift: what it learnt of the app's clock on the
    last sign-in, django_otp.oath.TOTP.verify) and refuses any step up to the last one used
    (device.last_t, in the same steps as the codes). So take the step now + drift, or the one
    after the last used: never behind the window's middle, the code stays valid if a
    30-second boundary passes before the server checks it. Wait for the clock only when
    that step is still beyond the window."""
    import time

    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.waiting import wait_until

    device = TOTPDevice.objects.get(user=user, confirmed=True)

    def middle() -> int:  # the step at the middle of the server's window, now
        return int((time.time() - device.t0) // device.step) + device.drift

    wanted = max(middle(), device.last_t + 1)
    wait_until(lambda: middle() + device.tolerance >= wanted, timeout=2 * device.step + 5, interval=0.5,
               what="the authenticator's next time step")
    return totp_code(device, at=device.t0 + wanted * device.step + 1)


def signed_in(client, user):
    """A Django test client signed in as `user` with both factors: the session is logged in
    and verified with the user's TOTP device, as the sign-in's second step leaves it
    (django_otp.login). `force_login` alone is anonymous for staff (portal/accounts/middleware.py)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = totp_device(user).persistent_id
    session.save()
    return client


def appointment(structure: Structure, agent, *, start: dt.datetime | None = None, **fields) -> Appointment:
    """A booked appointment (room created through the real action)."""
    values = {
        "citizen_first_name": "Jeanne",
        "citizen_last_name": "Dupont",
        "citizen_email": "jeanne.dupont@example.org",
        "citizen_phone": "+33612345678",
        "preferred_channel": Channel.EMAIL,
        "start": start or timezone.now() + dt.timedelta(hours=1),
        "duration_minutes": 30,
        "subject": "Carte d'identité",
    }
    values.update(fields)
    obj = Appointment(structure=structure, agent=agent, **values)
    obj.full_clean()
    booking.book(obj, by=agent)
    return obj


def notification(appointment: Appointment, kind: str, channel: str = Channel.SMS, **fields):
    """A message row of `kind` for `appointment`, due at its start unless told. Booking wrote
    the planned ones already (in its transaction): a pending one of the same kind is voided
    first, as a reschedule does (one pending planned message per kind)."""
    from notifications.models import Notification, State

    Notification.objects.filter(appointment=appointment, kind=kind, status=State.QUEUED).update(
        status=State.VOIDED, last_error="replaced in a test"
    )
    fields.setdefault("due_at", appointment.start)
    return Notification.objects.create(appointment=appointment, kind=kind, channel=channel, **fields)
