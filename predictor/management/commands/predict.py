"""`manage.py predict`: classify one tweet from the command line and store it."""

from argparse import ArgumentParser

from django.core.management.base import BaseCommand, CommandError

from predictor import services
from predictor.errors import ModelUnavailable
from predictor.models import Source
from predictor.tweets import InvalidTweet, tweet_clean


class Command(BaseCommand):
    help = "Classify one tweet with the active model, print the label and store the prediction."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("text", help="The tweet's text.")
        parser.add_argument("--keyword", default="", help="Optional keyword.")
        parser.add_argument("--location", default="", help="Optional location.")

    def handle(self, *args, text: str, keyword: str, location: str, **options) -> None:
        try:
            tweet = tweet_clean(text=text, keyword=keyword, location=location)
        except InvalidTweet as exc:
            raise CommandError(str(exc)) from None
        try:
            prediction = services.prediction_create(tweet=tweet, source=Source.COMMAND)
        except ModelUnavailable as exc:
            raise CommandError(f"{exc}: run `manage.py retrain` first") from None
        self.stdout.write(
            f"{prediction.get_predicted_label_display()} "
            f"(probability {prediction.probability:.3f}, threshold {prediction.threshold:.3f}, "
            f"model {prediction.model_version.name}, id {prediction.pk})"
        )
