"""What the site serves: its pages, the API and static files, never the data directory (the
database, the model artifacts), the code or the training data."""

from __future__ import annotations

import pytest
from django.conf import settings

# Raw paths, including traversal attempts; the live-server variant sends them byte for byte
# (tests/reliability/test_live_security.py).
NOT_SERVED = [
    "/data/sample_tweets.csv",
    "/var/db.sqlite3",
    "/db.sqlite3",
    "/models/{artifact}",
    "/var/models/{artifact}",
    "/static/../var/db.sqlite3",
    "/static/%2e%2e/var/db.sqlite3",
    "/static/..%2fvar/db.sqlite3",
    "/static/models/{artifact}",
    "/static/../../disaster_site/settings.py",
    "/.env",
    "/manage.py",
    "/media/db.sqlite3",
]


@pytest.mark.parametrize("path", NOT_SERVED)
def test_the_data_directory_and_the_code_are_not_served(client, active_version, path):
    assert (settings.MODELS_DIR / active_version.artifact_path).is_file()
    response = client.get(path.format(artifact=active_version.artifact_path))
    assert response.status_code == 404
    assert b"SQLite format 3" not in response.content
