"""`manage.py retrain`: train a candidate, compare it with the active version on the evaluation
set, and activate it only when the promotion gate says so (or when forced)."""

import json
from argparse import ArgumentParser, BooleanOptionalAction
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ml.data import DatasetError
from predictor import services
from predictor.management.metrics_line import metrics_line
from predictor.models import ModelVersion


class Command(BaseCommand):
    help = (
        "Train a candidate on the base data plus the reviewed predictions; activate it when the "
        "promotion gate finds it better than the active version on the evaluation set."
    )

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
            help="Let the gate activate the candidate (default), or only store it.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Activate the candidate whatever the gate says (the reason is recorded).",
        )
        parser.add_argument(
            "--reason",
            default="",
            help="Why --force was needed; recorded with the activation.",
        )
        parser.add_argument(
            "--json",
            dest="as_json",
            action="store_true",
            help="Print the gate's report as one JSON object on the last line.",
        )

    def handle(
        self,
        *args,
        data: Path | None,
        no_feedback: bool,
        activate: bool,
        force: bool,
        reason: str,
        as_json: bool,
        **options,
    ) -> None:
        if force and not activate:
            raise CommandError("--force activates; it cannot go with --no-activate")
        if reason and not force:
            raise CommandError("--reason explains a --force; give both or neither")
        try:
            version = services.model_version_train(
                data_path=data,
                include_feedback=not no_feedback,
                activate=activate,
                force_reason=(reason or "from the command line") if force else None,
            )
        except DatasetError as exc:
            raise CommandError(str(exc)) from None
        if as_json:
            report = services.model_version_training_report(version)
            self.stdout.write(json.dumps(report, sort_keys=True))
            return
        self.stdout.write(summary(version, self.style))


def summary(version: ModelVersion, style) -> str:
    """The report for a person: the evaluation, the paired comparison, the verdict."""
    gate = version.gate
    evaluation = gate["evaluation_set"]
    lines = [
        f"{version.name} trained on {gate['rows']['trained_on']} rows "
        f"({version.base_rows} base + {version.feedback_rows} reviewed) "
        f"in {version.train_seconds:.1f}s; out-of-fold {metrics_line(version.metrics)}",
        f"evaluation set {evaluation['set'][:12]}: {evaluation['n']} rows "
        f"({evaluation['base_rows']} base, {evaluation['audit_rows']} audit reviews)",
    ]
    comparison = gate["comparison"]
    if comparison:
        for who, name in (("candidate", version.name), ("active", gate["active_version"])):
            figures = comparison[who]
            lines.append(
                f"  {name:>9} ({who}): f1={figures['f1']:.3f} precision={figures['precision']:.3f} "
                f"recall={figures['recall']:.3f}"
            )
        lines.append(
            f"  ΔF1 {comparison['delta_f1']:+.3f} (95% interval {comparison['delta_f1_low']:+.3f} "
            f"to {comparison['delta_f1_high']:+.3f}); discordant rows: "
            f"{comparison['active_only_correct']} only the active right, "
            f"{comparison['candidate_only_correct']} only the candidate right; "
            f"McNemar p={comparison['mcnemar_p']:.3g}"
        )
        lines.append(
            f"  Brier score better by {comparison['brier_gain']:+.4f} (95% interval "
            f"{comparison['brier_gain_low']:+.4f} to {comparison['brier_gain_high']:+.4f})"
        )
    state = "activated" if version.is_active else "stored (not active)"
    verdict = f"{version.name} {state}: {gate['reason']}"
    lines.append(style.SUCCESS(verdict) if version.is_active else style.WARNING(verdict))
    return "\n".join(lines)
