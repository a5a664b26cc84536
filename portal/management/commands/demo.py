"""Create demo data: a structure, an agent, a helpdesk user and an appointment in 16 min.

Idempotent (`./dev run` calls it at each start): users are reused, and the demo
appointment is moved to 16 minutes from now rather than a new one booked each time.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal import booking
from portal.accounts import secondfactor
from portal.citizen import manage_url, test_url
from portal.models import Appointment, Channel, Membership, Role, Status, Structure

DEMO_PASSWORD = "demo-guichet-2026"  # noqa: S105  (printed demo credentials, DEBUG only)
# The demo users' authenticator secret (printed, as the password is): add it to an app
# (FreeOTP, Aegis…) or use a printed recovery code at the second step of the sign-in.
DEMO_TOTP_KEY = "6465" * 10  # hex, 20 bytes


class Command(BaseCommand):
    help = "Create (or refresh) a demo structure, users and an appointment starting in 16 minutes."

    def add_arguments(self, parser):
        parser.add_argument("--email", default="citoyen@example.org", help="citizen's email")
        parser.add_argument("--phone", default="06 12 34 56 78", help="citizen's mobile")

    @transaction.atomic
    def handle(self, *args, **options):
        structure, _ = Structure.objects.get_or_create(
            name="Mairie de Démo-sur-Loire",
            defaults={
                "address": "1 place de la République, 45000 Démo-sur-Loire",
                "helpdesk_phone": "+33238000000",
                "helpdesk_email": "accueil@demo-sur-loire.example.org",
                "time_zone": "Europe/Paris",
            },
        )
        agent = self._user("agent", "Camille", "Martin", structure, Role.AGENT)
        manager = self._user("manager", "Dominique", "Bernard", structure, Role.MANAGER)
        helpdesk = self._user("helpdesk", "Alex", "Petit", structure, Role.HELPDESK)
        for user in (helpdesk, manager, agent):
            device = self._second_factor(user)  # the same key for the three; printed with the agent's label
        codes = self._recovery_codes(agent, manager, helpdesk)
        start = timezone.now().replace(second=0, microsecond=0) + dt.timedelta(minutes=16)
        appointment = (
            Appointment.objects.filter(
                structure=structure, agent=agent, citizen_first_name="Jeanne", citizen_last_name="Dupont",
                status=Status.SCHEDULED,
            )
            .order_by("-start")
            .first()
        )
        if appointment is None:
            appointment = Appointment(
                structure=structure,
                agent=agent,
                citizen_first_name="Jeanne",
                citizen_last_name="Dupont",
                preferred_channel=Channel.EMAIL,
                duration_minutes=30,
                subject="Demande de carte nationale d'identité",
            )
        appointment.citizen_email, appointment.citizen_phone = options["email"], options["phone"]
        previous_start, appointment.start = appointment.start, start
        appointment.full_clean()
        if appointment.pk is None:
            password = booking.book(appointment, by=agent)
        else:
            booking.update(appointment, previous_start=previous_start)
            password = appointment.room.password
        room = appointment.room
        out = self.stdout.write
        out(self.style.SUCCESS("Demo data ready."))
        out(f"Agent back-office: {settings.SITE_URL}{reverse('admin:index')}")
        out(f"  agent    : agent / {DEMO_PASSWORD}")
        out(f"  manager  : manager / {DEMO_PASSWORD}")
        out(f"  helpdesk : helpdesk / {DEMO_PASSWORD}")
        out("  second factor (every demo user): the code of an authenticator app set up with")
        out(f"    secret {secondfactor.secret_of(device)} (or scan {device.config_url}),")
        out(f"    or a recovery code, each usable once: {' '.join(codes)}")
        local = appointment.local_start().strftime("%H:%M")
        out(f"Appointment at {local} ({structure.time_zone}) with Jeanne Dupont")
        out(f"Citizen link: {room.join_url}")
        out(f"Citizen's personal link (the code is filled in): {room.personal_url}")
        out(f"Room password: {password}")
        # As in the confirmation email (links are bound to the address they are sent to).
        out(f"Citizen's device test, and cancel or move: {test_url(appointment, 'email')} — "
            f"{manage_url(appointment, 'email')}")
        out(f"Agents' day view: {settings.SITE_URL}{reverse('day')}")

    def _second_factor(self, user) -> TOTPDevice:
        device, _ = TOTPDevice.objects.update_or_create(
            user=user, name="demo", defaults={"key": DEMO_TOTP_KEY, "confirmed": True})
        return device

    def _recovery_codes(self, *users) -> list[str]:
        """Fresh recovery codes at each start, the same for the demo users (each usable once per user)."""
        codes = [StaticToken.random_token() for _ in range(3)]
        for user in users:
            StaticDevice.objects.filter(user=user).delete()
            static = StaticDevice.objects.create(user=user, name="demo", confirmed=True)
            StaticToken.objects.bulk_create(StaticToken(device=static, token=code) for code in codes)
        return codes

    def _user(self, username, first, last, structure, role):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last, "is_staff": True}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        Membership.objects.get_or_create(user=user, structure=structure, defaults={"role": role})
        return user
