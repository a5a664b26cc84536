"""`manage.py purge [--dry-run] [--kind KIND ...]`: the retention purge (portal/retention.py)."""

from __future__ import annotations

from argparse import ArgumentParser, RawDescriptionHelpFormatter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal import retention


class Command(BaseCommand):
    help = "Count ended appointments into the statistics, then delete or anonymise the personal data past its delay."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kept = "\n".join(f"  {name}: {text}" for name, text in retention.kept_how_long())
        parser = super().create_parser(prog_name, subcommand, formatter_class=RawDescriptionHelpFormatter,
                                       epilog=f"What is kept how long:\n{kept}", **kwargs)
        return parser

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--dry-run", action="store_true",
                            help="Print what a run would count and purge now, changing nothing.")
        parser.add_argument("--kind", action="append", choices=list(retention.REGISTRY), dest="kinds",
                            help="Only this kind of data (repeatable); default: all.")
        parser.add_argument("--batch-size", type=int, default=None, help="Rows per transaction.")

    def handle(self, *args: Any, dry_run: bool = False, kinds: list[str] | None = None,
               batch_size: int | None = None, **options: Any) -> None:
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        result = retention.run(dry_run=dry_run, kinds=kinds, batch_size=batch_size)
        verb = "would purge" if dry_run else "purged"
        self.stdout.write(f"appointments counted in the statistics: {result.counted}")
        for name in kinds or retention.REGISTRY:
            self.stdout.write(f"{name}: {verb} {result.purged.get(name, 0)} ({retention.REGISTRY[name].action})")
        for name, why in result.deferred.items():
            self.stderr.write(f"{name}: deferred to the next run: {why}")
