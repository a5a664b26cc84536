from django.core.management.base import BaseCommand

from portal import dsfr


class Command(BaseCommand):
    help = "Build rooms/static/dsfr/dsfr.citizen.min.css from DSFR's vendored per-component files."

    def handle(self, *args: object, **options: object) -> None:
        path = dsfr.write()
        self.stdout.write(f"{path} ({path.stat().st_size} bytes)")
