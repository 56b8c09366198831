"""`manage.py replay --version vN`: score the last stored predictions again with a version
(shadow replay) and report what would change."""

import json
from argparse import ArgumentParser

from django.core.management.base import BaseCommand, CommandError

from ml.persistence import ArtifactError
from predictor import selectors, services
from predictor.models import ModelVersion, Prediction


class Command(BaseCommand):
    help = (
        "Re-score the last N stored predictions with a version: flip rate, old against new "
        "labels, wins and losses on reviewed rows, the largest flips."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> ArgumentParser:
        # Our --version names a model version; it replaces Django's --version (as in evaluate).
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--version", dest="version_name", required=True, help="Version name, e.g. v3."
        )
        parser.add_argument(
            "--last", type=int, default=1000, help="How many recent predictions (default 1000)."
        )
        parser.add_argument(
            "--top", type=int, default=10, help="How many of the largest flips to list."
        )
        parser.add_argument(
            "--request-review",
            action="store_true",
            help="Send the flipped predictions that are not reviewed to the front of the queue.",
        )
        parser.add_argument(
            "--json",
            dest="as_json",
            action="store_true",
            help="Print the report as one JSON object on the last line.",
        )

    def handle(
        self,
        *args,
        version_name: str,
        last: int,
        top: int,
        request_review: bool,
        as_json: bool,
        **options,
    ) -> None:
        if last < 1 or top < 0:
            raise CommandError("--last must be at least 1 and --top at least 0")
        try:
            version = selectors.model_version_get(name=version_name)
        except ModelVersion.DoesNotExist:
            raise CommandError(f"no model version named {version_name!r}") from None
        try:
            replay = services.prediction_replay(version=version, last=last, top=top)
        except ArtifactError as exc:
            raise CommandError(str(exc)) from None
        queued = 0
        if request_review:
            queued = services.prediction_review_request(
                predictions=Prediction.objects.filter(pk__in=replay.flip_ids)
            )
        if as_json:
            self.stdout.write(json.dumps({**replay.as_dict(), "queued": queued}, sort_keys=True))
            return
        self.stdout.write(self._summary(replay, queued=queued, asked=request_review))

    def _summary(self, replay: services.Replay, *, queued: int, asked: bool) -> str:
        if not replay.n:
            return "No stored predictions to replay."
        table = replay.table
        lines = [
            f"{replay.version.name} on the last {replay.n:,} predictions: {replay.flips:,} flips "
            f"({replay.flip_rate:.1%})",
            "  stored \\ replayed   disaster  not_disaster",
            *(
                f"  {old:<18} {table[old]['disaster']:>9,} {table[old]['not_disaster']:>13,}"
                for old in ("disaster", "not_disaster")
            ),
            f"  on {replay.reviewed:,} reviewed: {replay.wins:,} wins, {replay.losses:,} losses",
        ]
        for flip in replay.top_flips:
            lines.append(
                f"  #{flip.prediction_id} {flip.old_label} {flip.old_probability:.2f} → "
                f"{flip.new_label} {flip.new_probability:.2f}: {flip.text[:70]}"
            )
        if asked:
            lines.append(self.style.SUCCESS(f"{queued:,} flipped predictions sent for review."))
        return "\n".join(lines)
