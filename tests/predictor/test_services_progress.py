"""What a training job sees of model_version_train: its stages and progress, and who asked."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.admin.models import LogEntry

from ml.train import CV_FOLDS
from predictor import services
from predictor.models import ModelActivation

pytestmark = pytest.mark.django_db


def test_training_reports_stages_in_order_and_records_who_asked(admin_user):
    reports: list[tuple[str, int]] = []

    version = services.model_version_train(
        data_path=settings.SAMPLE_TRAIN_DATA,
        via="job",
        user=admin_user,
        progress=lambda stage, percent: reports.append((stage, percent)),
    )

    percents = [percent for _, percent in reports]
    assert percents == sorted(percents)
    assert percents[0] > 0 and percents[-1] < 100
    stages = list(dict.fromkeys(stage for stage, _ in reports))
    assert stages == [
        "reading the data",
        "training",
        "scoring on the evaluation set",
        "comparing with the active version",
        "storing the version",
        "scoring the other versions on the evaluation set",
    ]
    # One report as training starts, then one per fit (the folds' and the final one).
    training = [percent for stage, percent in reports if stage == "training"]
    assert len(training) == CV_FOLDS + 2
    assert training[0] == 5 and training[-1] == 75
    assert training == sorted(set(training))
    activation = ModelActivation.objects.get()
    assert (activation.version, activation.user, activation.via) == (version, admin_user, "job")
    assert LogEntry.objects.get().user == admin_user


def test_training_without_a_progress_listener_still_trains():
    version = services.model_version_train(data_path=settings.SAMPLE_TRAIN_DATA)
    assert version.is_active
    assert ModelActivation.objects.get().user is None
