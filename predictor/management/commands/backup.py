"""`manage.py backup`: an online, consistent copy of the SQLite database."""

from argparse import ArgumentParser
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from predictor.backups import BackupError, database_backup


class Command(BaseCommand):
    help = "Copy the live SQLite database to a file with SQLite's online backup API."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--output", type=Path, required=True, help="Where to write the copy.")

    def handle(self, *args, output: Path, **options) -> None:
        try:
            result = database_backup(output=output)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up to {result.path} ({result.size:,} bytes): "
                f"{result.predictions:,} predictions, {result.model_versions} model versions."
            )
        )
