"""The tutorial's Flask app: python bench/seed_app/app.py --models DIR --port N."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from flask import Flask, render_template, request

if not __package__:  # run as a script: make `bench.seed_app` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.seed_app.model import is_disaster, load, predict_proba


def create_app(models_dir: str | Path) -> Flask:
    """Load the pickles once and return the app (/, /index, POST /predict)."""
    app = Flask(__name__, template_folder=str(Path(__file__).resolve().parent / "templates"))
    model = load(models_dir)

    @app.route("/")
    @app.route("/index")
    def index() -> str:
        return render_template("index.html")

    @app.route("/predict", methods=["POST"])
    def predict() -> str:
        location = request.form["location"]
        keyword = request.form["keyword"]
        message = request.form["message"]
        probability = predict_proba(model, message, keyword, location)
        label = "Disaster" if is_disaster(probability) else "Not a disaster"
        return render_template("result.html", label=label, probability=probability, message=message)

    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Run with Flask's built-in (threaded) server, as the tutorial did."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", required=True, help="directory written by train.py")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    create_app(args.models).run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
