"""Settings for the test suite: the real settings, with a throwaway key and data directory."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "insecure-test-only-key")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="disaster-tests-"))
os.environ.setdefault("ACTIVE_MODEL_CHECK_SECONDS", "0")

from disaster_site.settings import *  # noqa: F403

# Tests render templates without running collectstatic first, so no manifest of hashed names.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
