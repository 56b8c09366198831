"""`manage.py ensure_model`: train and activate a first model version when none is active."""

from argparse import ArgumentParser
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ml.data import DatasetError
from predictor import services


class Command(BaseCommand):
    help = "Make sure a model version is active, training one when there is none."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--data", type=Path, help="Training CSV. Default: $TRAIN_DATA, else the bundled sample."
        )

    def handle(self, *args, data: Path | None, **options) -> None:
        path = data or services.default_training_data()
        try:
            version, trained = services.model_version_ensure_active(data_path=path)
        except DatasetError as exc:
            raise CommandError(str(exc)) from None
        if not trained:
            self.stdout.write(f"Model {version.name} is active.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Trained and activated {version.name} on {path} "
                f"(validation f1={version.metrics['f1']:.3f})."
            )
        )
