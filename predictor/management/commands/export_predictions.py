"""`manage.py export_predictions`: stored predictions as a training CSV (id,keyword,location,text,
target), streamed row by row."""

import csv
import os
import sys
from argparse import ArgumentParser
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from predictor import selectors


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since: {value!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = (
        "Write stored predictions as CSV in the training format id,keyword,location,text,target "
        "(target: the reviewer's label when reviewed, else the predicted label; 1 = disaster)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--reviewed-only", action="store_true", help="Only predictions a reviewer labelled."
        )
        parser.add_argument(
            "--since", help="Only predictions made on or after this day (YYYY-MM-DD, local time)."
        )
        parser.add_argument(
            "--output", default="-", help="File to write (replaced if it exists). Default: stdout."
        )
        parser.add_argument(
            "--with-prediction",
            action="store_true",
            help="Add the columns predicted_target, probability, model_version and reviewed.",
        )

    def handle(
        self,
        *args,
        reviewed_only: bool,
        since: str | None,
        output: str,
        with_prediction: bool,
        **options,
    ) -> None:
        start = selectors.local_day_start(_date(since)) if since else None
        rows = selectors.prediction_export_rows(
            predictions=selectors.prediction_export_list(reviewed_only=reviewed_only, since=start),
            with_prediction=with_prediction,
        )
        try:
            if output == "-":
                count = self._write(rows, self.stdout)
                destination = "stdout"
            else:
                try:
                    with open(output, "w", newline="", encoding="utf-8") as file:
                        count = self._write(rows, file)
                except OSError as exc:
                    raise CommandError(f"--output: cannot write {output}: {exc.strerror}") from None
                destination = output
        except BrokenPipeError:
            # The reader stopped early (`| head`): not an error. Point stdout at /dev/null so the
            # interpreter's final flush does not raise again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return
        finally:
            rows.close()  # ends the database cursor now, not at interpreter exit
        # On stderr, so that stdout stays pure CSV.
        (self.stderr if output == "-" else self.stdout).write(
            self.style.SUCCESS(f"Exported {count} prediction{'s' * (count != 1)} to {destination}.")
        )

    @staticmethod
    def _write(rows, file) -> int:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(next(rows))
        count = 0
        for row in rows:
            writer.writerow(row)
            count += 1
        return count
