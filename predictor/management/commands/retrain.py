"""`manage.py retrain`: train, evaluate, store and (by default) activate a new model version."""

from argparse import ArgumentParser, BooleanOptionalAction
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ml.data import DatasetError
from predictor import services
from predictor.management.metrics_line import metrics_line


class Command(BaseCommand):
    help = "Train a new model version on the base data plus every reviewed prediction."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--data",
            type=Path,
            help="Base training CSV (keyword,location,text,target). "
            "Default: $TRAIN_DATA, else the bundled sample.",
        )
        parser.add_argument(
            "--no-feedback",
            action="store_true",
            help="Leave out the reviewed predictions.",
        )
        parser.add_argument(
            "--activate",
            action=BooleanOptionalAction,
            default=True,
            help="Activate the new version (default) or only store it.",
        )

    def handle(
        self, *args, data: Path | None, no_feedback: bool, activate: bool, **options
    ) -> None:
        try:
            version = services.model_version_train(
                data_path=data, include_feedback=not no_feedback, activate=activate
            )
        except DatasetError as exc:
            raise CommandError(str(exc)) from None
        state = "activated" if version.is_active else "stored (not active)"
        self.stdout.write(
            self.style.SUCCESS(
                f"{version.name} {state}: {metrics_line(version.metrics)} "
                f"rows={version.base_rows}+{version.feedback_rows} (base+feedback) "
                f"in {version.train_seconds:.1f}s"
            )
        )
