"""Online SQLite backups: a consistent, checked copy."""

import sqlite3

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from predictor import services
from predictor.backups import BackupError, database_backup
from predictor.models import Source
from predictor.tweets import tweet_clean

sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="backup copies SQLite databases"
)


@pytest.fixture
def stored_predictions(transactional_db, make_version):
    make_version("v1")
    return services.prediction_create_batch(
        tweets=[tweet_clean(text=f"tweet {i}") for i in range(25)], source=Source.BATCH
    )


@sqlite_only
def test_backup_is_a_complete_readable_copy(stored_predictions, tmp_path):
    result = database_backup(output=tmp_path / "copy.sqlite3")
    assert (result.predictions, result.model_versions) == (25, 1)
    with sqlite3.connect(result.path) as copy:
        texts = [row[0] for row in copy.execute("SELECT text FROM predictor_prediction")]
    assert sorted(texts) == sorted(p.text for p in stored_predictions)
    assert [p.name for p in tmp_path.iterdir()] == ["copy.sqlite3"]


@sqlite_only
def test_backup_command_reports_counts(stored_predictions, tmp_path, capsys):
    call_command("backup", "--output", str(tmp_path / "b.sqlite3"))
    assert "25 predictions, 1 model versions" in capsys.readouterr().out


@sqlite_only
def test_backup_into_a_missing_directory_is_a_clear_error(stored_predictions, tmp_path):
    with pytest.raises(BackupError, match="no such directory"):
        database_backup(output=tmp_path / "nope" / "b.sqlite3")
    with pytest.raises(CommandError, match="no such directory"):
        call_command("backup", "--output", str(tmp_path / "nope" / "b.sqlite3"))


@pytest.mark.skipif(connection.vendor == "sqlite", reason="only on other databases")
def test_backup_of_another_database_says_what_to_use(transactional_db, tmp_path):
    with pytest.raises(BackupError, match="use pg_dump"):
        database_backup(output=tmp_path / "b.sqlite3")
