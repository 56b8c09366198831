"""`manage.py label_issues`: check the labels of the base data and of every review with
out-of-fold probabilities, store how suspicious each looks, and optionally export the flagged base
rows with their lines in the CSV."""

import csv
import json
from argparse import ArgumentParser
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.text import Truncator

from ml.data import DatasetError
from ml.label_issues import LABEL_ISSUE_FOLDS
from predictor import selectors, services

TOP = 5


class Command(BaseCommand):
    help = (
        "Score every base row and reviewed prediction with a model that never saw its label, "
        "flag the labels that look wrong (confident learning) and store their suspicion."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--data",
            type=Path,
            help="Base CSV (keyword,location,text,target). Default: $TRAIN_DATA, else the "
            "bundled sample.",
        )
        parser.add_argument(
            "--folds",
            type=int,
            default=LABEL_ISSUE_FOLDS,
            help=f"Cross-validation folds (at least 2; default {LABEL_ISSUE_FOLDS}).",
        )
        parser.add_argument(
            "--export",
            type=Path,
            metavar="FILE",
            help="Write the flagged base rows to this CSV, most suspicious first: line (in the "
            "base CSV), id, keyword, location, text, label, out_of_fold_probability, suspicion.",
        )
        parser.add_argument(
            "--json",
            dest="as_json",
            action="store_true",
            help="Print the check's report as one JSON object on the last line.",
        )

    def handle(
        self,
        *args,
        data: Path | None,
        folds: int,
        export: Path | None,
        as_json: bool,
        **options,
    ) -> None:
        if folds < 2:
            raise CommandError(f"--folds must be at least 2, got {folds}")
        if export is not None and not export.parent.is_dir():
            # Found before the check runs for minutes, not after.
            raise CommandError(f"cannot write {export}: no such directory {export.parent}")
        try:
            report = services.label_issues_compute(data_path=data, folds=folds)
        except DatasetError as exc:
            raise CommandError(str(exc)) from None
        if export is not None:
            try:
                with export.open("w", encoding="utf-8", newline="") as handle:
                    csv.writer(handle).writerows(selectors.label_suspicion_base_export_rows())
            except OSError as exc:
                raise CommandError(f"cannot write {export}: {exc.strerror or exc}") from None
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), sort_keys=True))
            return
        self.stdout.write(
            f"{report.rows:,} labels checked ({report.base_rows:,} base rows of "
            f"{report.data_file}, {report.reviewed_rows:,} reviews) with {report.folds} folds "
            f"in {report.seconds:.1f} s; thresholds P(not)≥{report.thresholds[0]:.3f}, "
            f"P(disaster)≥{report.thresholds[1]:.3f}"
        )
        for row in selectors.label_suspicion_most_suspicious(limit=TOP):
            where = f"line {row.base_line}" if row.prediction is None else f"#{row.prediction_id}"
            text = row.text if row.prediction is None else row.prediction.text
            self.stdout.write(
                f"  {row.suspicion:.3f}  {where:>10}  label {row.target}, "
                f"P(disaster) {row.probability:.3f}: {Truncator(text).chars(70)}"
            )
        if export is not None:
            self.stdout.write(f"{report.flagged_base:,} flagged base rows written to {export}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Labels that look wrong: {report.flagged_base:,} base rows, "
                f"{report.flagged_reviewed:,} reviews."
            )
        )
