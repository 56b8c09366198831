"""Smoke test of the seed (baseline) Flask app: train on a tiny CSV, POST /predict."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("flask")
pytest.importorskip("pandas")
pytest.importorskip("xgboost")

from bench.seed_app import app as seed_app
from bench.seed_app import model as seed_model
from bench.seed_app import train as seed_train

ROWS = [
    ("fire", "California", "Forest fire spreading near homes, evacuate now", 1),
    ("flood", "Houston", "Flood waters rising downtown, roads closed", 1),
    ("earthquake", "", "Strong earthquake shakes the city, buildings collapsed", 1),
    ("", "Paris", "Lovely lunch with friends today", 0),
    ("", "", "This new album is fire, love it", 0),
    ("ablaze", "London", "My heart is ablaze for this movie", 0),
]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train the four pickles on a tiny CSV written to a temp dir."""
    tmp = tmp_path_factory.mktemp("seed")
    lines = ["id,keyword,location,text,target"]
    for i in range(5):
        for j, (kw, loc, text, target) in enumerate(ROWS):
            lines.append(f'{i * 10 + j},{kw},{loc},"{text}",{target}')
    csv = tmp / "train.csv"
    csv.write_text("\n".join(lines) + "\n")
    out = tmp / "models"
    assert seed_train.main(["--data", str(csv), "--out", str(out)]) == 0
    return out


def test_index_serves_form(models_dir: Path) -> None:
    client = seed_app.create_app(models_dir).test_client()
    for path in ("/", "/index"):
        resp = client.get(path)
        assert resp.status_code == 200
        for field in ("location", "keyword", "message"):
            assert f'name="{field}"' in resp.get_data(as_text=True)


def test_predict_renders_probability(models_dir: Path) -> None:
    client = seed_app.create_app(models_dir).test_client()
    form = {
        "location": "California",
        "keyword": "fire",
        "message": "Forest fire near homes",
    }
    resp = client.post("/predict", data=form)
    assert resp.status_code == 200
    match = re.search(r'id="probability">([0-9.]+)<', resp.get_data(as_text=True))
    assert match is not None
    prob = float(match.group(1))
    assert 0.0 <= prob <= 1.0
    expected = seed_model.predict_proba(
        seed_model.load(models_dir), form["message"], "fire", "California"
    )
    assert prob == pytest.approx(expected, abs=1e-4)


def test_predict_missing_field_is_400(models_dir: Path) -> None:
    client = seed_app.create_app(models_dir).test_client()
    assert client.post("/predict", data={"message": "hello"}).status_code == 400


def test_batch_matches_single(models_dir: Path) -> None:
    m = seed_model.load(models_dir)
    texts = [r[2] for r in ROWS]
    batch = seed_model.predict_proba_batch(m, texts, [r[0] for r in ROWS], [r[1] for r in ROWS])
    singles = [seed_model.predict_proba(m, r[2], r[0], r[1]) for r in ROWS]
    assert batch.tolist() == pytest.approx(singles)
