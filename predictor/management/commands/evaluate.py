"""`manage.py evaluate`: score a model version on a labelled CSV."""

import json
from argparse import ArgumentParser
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ml.data import DatasetError
from ml.persistence import ArtifactError
from predictor import selectors, services
from predictor.management.metrics_line import metrics_line
from predictor.models import ModelVersion


class Command(BaseCommand):
    help = "Score the active (or a named) model version on a labelled CSV."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> ArgumentParser:
        # Our --version names a model version; it replaces Django's --version (Django's own).
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--data", type=Path, required=True, help="CSV with keyword,location,text,target."
        )
        parser.add_argument("--version", dest="version_name", help="Version name, e.g. v3.")
        parser.add_argument(
            "--json",
            dest="as_json",
            action="store_true",
            help="Print one JSON object on the last line.",
        )

    def handle(self, *args, data: Path, version_name: str | None, as_json: bool, **options) -> None:
        if version_name:
            try:
                version = selectors.model_version_get(name=version_name)
            except ModelVersion.DoesNotExist:
                raise CommandError(f"no model version named {version_name!r}") from None
        else:
            version = selectors.model_version_active()
            if version is None:
                raise CommandError("no model is active: run `manage.py retrain` first")
        try:
            metrics = services.model_version_evaluate(data_path=data, version=version)
        except (DatasetError, ArtifactError) as exc:
            raise CommandError(str(exc)) from None
        if as_json:
            figures = {
                "n": metrics.n,
                "accuracy": metrics.accuracy,
                "precision": metrics.precision,
                "recall": metrics.recall,
                "f1": metrics.f1,
                "roc_auc": metrics.roc_auc,
                "model_version": version.name,
            }
            self.stdout.write(json.dumps(figures, sort_keys=True))
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"{version.name} on {metrics.n} rows: {metrics_line(metrics.as_dict())}"
            )
        )
