"""The management commands: retrain, evaluate, predict, ensure_model, activate."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from predictor.models import ModelVersion, Prediction, Source
from tests.conftest import shared_train_data

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_retrain_prints_a_summary_and_activates_a_first_version():
    output = run("retrain", "--data", str(settings.SAMPLE_TRAIN_DATA))
    version = ModelVersion.objects.get()
    assert version.is_active
    assert output.startswith(f"v1 trained on {version.gate['rows']['trained_on']} rows (")
    assert "evaluation set " in output
    assert output.strip().endswith("v1 activated: first version: nothing to compare with")


def test_retrain_no_activate_keeps_the_current_version(active_version):
    output = run("retrain", "--data", str(settings.SAMPLE_TRAIN_DATA), "--no-activate")
    assert "v2 stored (not active): stored, not activated; the gate said: refuse" in output
    assert ModelVersion.objects.get(is_active=True) == active_version


def test_retrain_reports_the_paired_comparison_and_keeps_a_refused_candidate(active_version):
    output = run("retrain", "--data", str(settings.SAMPLE_TRAIN_DATA))
    assert "(candidate): f1=" in output and "(active): f1=" in output
    assert "ΔF1 " in output and "McNemar p=" in output and "Brier score better by " in output
    assert "v2 stored (not active): refuse: too few evaluation rows" in output
    refused = ModelVersion.objects.get(name="v2")
    assert not refused.is_active and refused.gate["decision"] == "refused"
    assert ModelVersion.objects.get(is_active=True) == active_version


def test_retrain_json_is_one_object_on_the_last_line(active_version):
    output = run("retrain", "--data", str(settings.SAMPLE_TRAIN_DATA), "--json")
    report = json.loads(output.strip().splitlines()[-1])
    assert report["version"] == "v2" and report["activated"] is False
    assert report["decision"] == "refused" and report["active_version"] == "v1"
    comparison = report["comparison"]
    assert comparison["n"] == report["evaluation_set"]["n"] == report["candidate"]["n"]
    assert comparison["delta_f1_low"] <= comparison["delta_f1"] <= comparison["delta_f1_high"]
    for key in ("active_only_correct", "candidate_only_correct", "mcnemar_p", "rule", "reason"):
        assert key in comparison
    assert set(report["candidate"]) == {
        "set",
        "n",
        "f1",
        "precision",
        "recall",
        "accuracy",
        "roc_auc",
    }


def test_retrain_force_activates_and_records_why(active_version):
    from predictor.models import ModelActivation

    output = run(
        "retrain", "--data", str(settings.SAMPLE_TRAIN_DATA), "--force", "--reason", "hotfix"
    )
    assert "v2 activated: forced: hotfix (the gate said: refuse" in output
    activation = ModelActivation.objects.latest()
    assert (activation.version.name, activation.previous, activation.via) == (
        "v2",
        active_version,
        "retrain",
    )
    assert activation.reason.startswith("forced: hotfix")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--force", "--no-activate"], "cannot go with --no-activate"),
        (["--reason", "why not"], "give both or neither"),
    ],
)
def test_retrain_contradictory_flags_are_a_command_error(active_version, arguments, message):
    with pytest.raises(CommandError, match=message):
        run("retrain", "--data", str(settings.SAMPLE_TRAIN_DATA), *arguments)
    assert ModelVersion.objects.count() == 1


@pytest.mark.parametrize("command", ["retrain", "ensure_model"])
def test_training_on_the_sample_says_so_whoever_asks(settings, caplog, command):
    settings.TRAIN_DATA = ""
    with caplog.at_level(logging.WARNING, logger="predictor.services"):
        call_command(command, stdout=StringIO(), stderr=StringIO())
    assert any("bundled sample" in r.getMessage() for r in caplog.records)
    assert ModelVersion.objects.get().training_data == "sample_tweets.csv"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("id,keyword,text\n1,a,b\n", "location"),
        ("id,keyword,location,text,target\n", "no data rows"),
        ("keyword,location,text,target\n,,one,0\n,,two,0\n", "both classes"),
    ],
)
def test_retrain_bad_data_is_a_command_error(active_version, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        run("retrain", "--data", str(path))
    assert list(ModelVersion.objects.all()) == [active_version]


def test_evaluate_json_prints_one_object_on_the_last_line(active_version):
    output = run("evaluate", "--data", str(settings.SAMPLE_TRAIN_DATA), "--json")
    figures = json.loads(output.strip().splitlines()[-1])
    assert set(figures) == {
        "n", "accuracy", "precision", "recall", "f1", "roc_auc", "model_version"
    }  # fmt: skip
    assert figures["model_version"] == "v1"
    assert figures["n"] > 100


def test_evaluate_a_named_version(make_version):
    make_version("v1")
    make_version("v2")
    output = run("evaluate", "--data", str(settings.SAMPLE_TRAIN_DATA), "--version", "v1")
    assert output.startswith("v1 on ")


def test_evaluate_errors(make_version, tmp_path):
    with pytest.raises(CommandError, match="no model is active"):
        run("evaluate", "--data", str(settings.SAMPLE_TRAIN_DATA))
    make_version("v1")
    with pytest.raises(CommandError, match="no model version named 'v9'"):
        run("evaluate", "--data", str(settings.SAMPLE_TRAIN_DATA), "--version", "v9")
    with pytest.raises(CommandError, match="no such file"):
        run("evaluate", "--data", str(tmp_path / "missing.csv"))


def test_predict_prints_and_stores(active_version):
    output = run("predict", "Forest fire near La Ronge Sask. Canada", "--keyword", "fire")
    prediction = Prediction.objects.get()
    assert prediction.source == Source.COMMAND
    assert prediction.keyword == "fire"
    assert output.startswith("Disaster (probability ")
    assert f"id {prediction.pk}" in output


def test_predict_errors_store_nothing(db, make_version):
    with pytest.raises(CommandError, match="no model is active"):
        run("predict", "Flooding downtown")
    make_version("v1")
    with pytest.raises(CommandError, match="text: This field may not be blank"):
        run("predict", "   ")
    assert Prediction.objects.count() == 0


def test_ensure_model_trains_once():
    assert "Trained and activated v1" in run(
        "ensure_model", "--data", str(settings.SAMPLE_TRAIN_DATA)
    )
    assert run("ensure_model") == "Model v1 is active.\n"


def manage(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        capture_output=True,
        text=True,
        env={**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, **env},
        cwd=cwd,
        timeout=120,
    )


def test_activate_switches_and_rolls_back(make_version):
    first = make_version("v1")
    make_version("v2", activate=False)
    assert run("activate", "v2") == "v2 is now the active model.\n"
    assert ModelVersion.objects.get(is_active=True).name == "v2"
    run("activate", "v1")
    assert ModelVersion.objects.get(is_active=True) == first


def test_activate_records_why_and_calls_going_back_a_rollback(make_version):
    from predictor.models import ModelActivation

    make_version("v1")
    make_version("v2")
    run("activate", "v1")
    assert ModelActivation.objects.latest().reason == "rollback"
    run("activate", "v2", "--reason", "v2 fixed")
    latest = ModelActivation.objects.latest()
    assert (latest.version.name, latest.previous.name, latest.via, latest.reason) == (
        "v2",
        "v1",
        "command",
        "v2 fixed",
    )


def test_activate_dry_run_checks_and_changes_nothing(make_version):
    make_version("v1")
    make_version("v2", activate=False)
    assert "v2 can be activated" in run("activate", "v2", "--dry-run")
    assert ModelVersion.objects.get(is_active=True).name == "v1"


def test_activate_refuses_unknown_and_tampered_versions(make_version):
    make_version("v1")
    bad = make_version("v2", activate=False)
    with pytest.raises(CommandError, match="no model version is called 'v9'"):
        run("activate", "v9")
    path = settings.MODELS_DIR / bad.artifact_path
    path.write_bytes(path.read_bytes() + b"tampered")
    for args in (["v2"], ["v2", "--dry-run"]):
        with pytest.raises(CommandError, match="does not match its recorded SHA-256; nothing"):
            run("activate", *args)
    assert ModelVersion.objects.get(is_active=True).name == "v1"


def test_a_bad_command_exits_1_with_one_readable_line(tmp_path):
    env = {
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": "x",
        "DJANGO_SETTINGS_MODULE": "disaster_site.settings",
    }
    result = manage("retrain", "--data", str(tmp_path / "nope.csv"), env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"CommandError: no such file: {tmp_path / 'nope.csv'}"
    ]


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": "",
        "DEBUG": "0",
        "ENV_FILE": "",
        "DJANGO_SETTINGS_MODULE": "disaster_site.settings",
    }
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(
    shared_train_data() is None, reason="the shared train.csv is not on this machine"
)
def test_retrain_then_evaluate_on_the_real_data_meets_the_bar():
    data = str(shared_train_data())
    run("retrain", "--data", data)
    version = ModelVersion.objects.get(is_active=True)
    assert version.metrics["f1"] >= 0.76
    # Scored on the held-out evaluation set: a fifth of the rows, near-copies kept out of training.
    assert 1400 <= version.evaluation["n"] <= 1650
    assert version.evaluation["f1"] >= 0.74
    figures = json.loads(run("evaluate", "--data", data, "--json").strip().splitlines()[-1])
    assert figures["n"] == version.gate["rows"]["base"] == 7613
    assert figures["f1"] >= 0.76
