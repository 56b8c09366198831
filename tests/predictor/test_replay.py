"""Shadow replay: the stored history scored again by another version (service and command)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from predictor import services
from predictor.models import Label, ModelVersion, Prediction
from predictor.tweets import Tweet

pytestmark = pytest.mark.django_db

TWEETS = [
    "Forest fire near La Ronge Sask. Canada",
    "Evacuation ordered after the flood downtown",
    "I love this new song so much",
    "What a lovely sunny day at the beach",
    "Earthquake shakes the city, buildings collapse",
    "my phone is on fire today lol",
]


@pytest.fixture
def history(active_version, make_version, django_user_model):
    """Six stored predictions by v1, two of them reviewed, and v2: the same model with a
    threshold of 0 (so it calls everything a disaster)."""
    predictions = services.prediction_create_batch(tweets=[Tweet(text) for text in TWEETS])
    rita = django_user_model.objects.create_user("rita")
    for prediction, label in zip(
        predictions[:2], (Label.DISASTER, Label.NOT_DISASTER), strict=True
    ):
        services.prediction_relabel(prediction=prediction, true_label=label, reviewer=rita)
    return predictions, make_version("v2", activate=False, threshold=0.0)


def expected(predictions: list[Prediction], threshold: float) -> list[str]:
    return [Label.for_probability(p.probability, threshold) for p in predictions]


def test_replay_counts_flips_and_the_old_against_new_table(history):
    predictions, v2 = history
    new = expected(predictions, 0.0)
    replay = services.prediction_replay(version=v2)
    flipped = [
        p.pk for p, label in zip(predictions, new, strict=True) if label != p.predicted_label
    ]
    assert replay.n == 6
    assert flipped, "v2's threshold should flip some of these"
    assert replay.flips == len(flipped) and replay.flip_ids == sorted(flipped)
    assert sum(sum(row.values()) for row in replay.table.values()) == 6
    for old in Label.values:
        for label in Label.values:
            assert replay.table[old][label] == sum(
                1
                for p, n in zip(predictions, new, strict=True)
                if (p.predicted_label, n) == (old, label)
            )
    # v2 is v1's model: the same probabilities, cut elsewhere; largest changes first.
    assert {flip.prediction_id for flip in replay.top_flips} == set(flipped)
    for flip in replay.top_flips:
        stored = next(p for p in predictions if p.pk == flip.prediction_id)
        assert (flip.old_label, flip.text) == (stored.predicted_label, stored.text)
        assert flip.new_probability == pytest.approx(stored.probability, abs=1e-6)
    changes = [abs(f.new_probability - f.old_probability) for f in replay.top_flips]
    assert changes == sorted(changes, reverse=True)


def test_replay_scores_wins_and_losses_on_reviewed_rows(history):
    predictions, v2 = history
    new = expected(predictions, 0.0)
    truths = [Label.DISASTER, Label.NOT_DISASTER]
    wins = sum(
        n == t != p.predicted_label
        for p, n, t in zip(predictions[:2], new[:2], truths, strict=True)
    )
    losses = sum(
        p.predicted_label == t != n
        for p, n, t in zip(predictions[:2], new[:2], truths, strict=True)
    )
    replay = services.prediction_replay(version=v2)
    assert (replay.reviewed, replay.wins, replay.losses) == (2, wins, losses)


def test_replay_of_the_version_that_made_them_flips_nothing(history, active_version):
    replay = services.prediction_replay(version=active_version, last=4)
    assert (replay.n, replay.flips, replay.flip_rate) == (4, 0, 0.0)
    # The last four: the newest predictions, which are the last four stored.
    assert replay.table["disaster"]["not_disaster"] == replay.table["not_disaster"]["disaster"] == 0


def test_a_version_with_a_different_threshold_flips_what_it_should(active_version, make_version):
    # Threshold 0: everything becomes a disaster, so every stored "not disaster" flips.
    predictions = services.prediction_create_batch(tweets=[Tweet(text) for text in TWEETS])
    everything = make_version("v2", activate=False, threshold=0.0)
    replay = services.prediction_replay(version=everything)
    not_disaster = [p.pk for p in predictions if p.predicted_label == Label.NOT_DISASTER]
    assert not_disaster and replay.flip_ids == sorted(not_disaster)
    assert replay.table["not_disaster"]["disaster"] == len(not_disaster)
    assert all(flip.new_label == Label.DISASTER for flip in replay.top_flips)


def run(*args: str) -> str:
    out = StringIO()
    call_command("replay", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_command_reports_and_sends_flips_to_the_queue(active_version, make_version):
    predictions = services.prediction_create_batch(tweets=[Tweet(text) for text in TWEETS])
    make_version("v2", activate=False, threshold=0.0)
    flipped = {p.pk for p in predictions if p.predicted_label == Label.NOT_DISASTER}

    report = json.loads(run("--version", "v2", "--json").strip().splitlines()[-1])
    assert (report["n"], report["flips"], report["queued"]) == (6, len(flipped), 0)
    assert not Prediction.objects.filter(review_requested=True).exists()

    output = run("--version", "v2", "--last", "6", "--request-review")
    assert f"v2 on the last 6 predictions: {len(flipped)} flips" in output
    assert f"{len(flipped)} flipped predictions sent for review." in output
    assert set(Prediction.objects.filter(review_requested=True).values_list("pk", flat=True)) == (
        flipped
    )
    # Sent back to the queue: the queue shows them first.
    from predictor.selectors import prediction_unreviewed_next

    assert prediction_unreviewed_next().pk == min(flipped)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--version", "v9"], "no model version named 'v9'"),
        (["--version", "v1", "--last", "0"], "--last must be at least 1"),
    ],
)
def test_the_command_s_errors_are_one_line(active_version, arguments, message):
    with pytest.raises(CommandError, match=message):
        run(*arguments)


def test_a_version_without_its_artifact_is_a_command_error(active_version, make_version):
    make_version("v2", artifact=False)
    with pytest.raises(CommandError, match="artifact of v2 is missing"):
        run("--version", "v2")
    assert ModelVersion.objects.get(is_active=True) == active_version
