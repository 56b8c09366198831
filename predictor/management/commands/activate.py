"""`manage.py activate VERSION`: make a stored model version the active one (switch, roll back)."""

from argparse import ArgumentParser

from django.core.management.base import BaseCommand, CommandError

from ml.persistence import ArtifactError
from predictor import selectors, services
from predictor.artifact_store import artifact_verify
from predictor.models import ModelVersion


class Command(BaseCommand):
    help = "Activate a stored model version; running servers switch to it within seconds."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("version", help="The version's name, e.g. v3.")
        parser.add_argument(
            "--reason",
            default="",
            help='Why, for the activation history (default: "rollback" when VERSION is the one '
            "the active version replaced).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only check that the version exists and its artifact matches its SHA-256.",
        )

    def handle(self, *args, version: str, reason: str, dry_run: bool, **options) -> None:
        try:
            model_version = selectors.model_version_get(name=version)
        except ModelVersion.DoesNotExist:
            raise CommandError(f"no model version is called {version!r}") from None
        try:
            if dry_run:
                artifact_verify(model_version)
            else:
                services.model_version_activate(
                    version=model_version,
                    via="command",
                    reason=reason or _default_reason(model_version),
                )
        except ArtifactError as exc:
            raise CommandError(f"{exc}; nothing changed") from None
        if dry_run:
            self.stdout.write(f"{model_version.name} can be activated (artifact verified).")
        else:
            self.stdout.write(self.style.SUCCESS(f"{model_version.name} is now the active model."))


def _default_reason(version: ModelVersion) -> str:
    """ "rollback" when `version` is the one the active version replaced."""
    last = selectors.model_activation_last()
    return "rollback" if last and last.previous_id == version.pk else ""
