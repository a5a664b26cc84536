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
