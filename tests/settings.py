"""Settings for the test suite: the real settings, with a throwaway key and data directory and
no .env file."""

import os
import tempfile

# Never a developer's .env: what it sets (DEBUG, DATABASE_URL, ...) would change what the suite
# tests. Subprocesses started by the tests inherit this too.
os.environ["ENV_FILE"] = ""
os.environ.setdefault("SECRET_KEY", "insecure-test-only-key")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="disaster-tests-"))
os.environ.setdefault("ACTIVE_MODEL_CHECK_SECONDS", "0")
os.environ.setdefault("STATIC_ROOT", tempfile.mkdtemp(prefix="disaster-static-"))
# The review queue in its plain order; the audit sample's random draws are tested on their own.
os.environ.setdefault("AUDIT_SHARE", "0")
# No first review sent back for a second one; the double review's draws are tested on their own.
os.environ.setdefault("DOUBLE_REVIEW_SHARE", "0")

from disaster_site.settings import *  # noqa: F403

# No collectstatic before unit tests: serve static names as they are (live-server tests run
# collectstatic and the real manifest storage).
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Logins in tests check passwords for real, just without a million PBKDF2 rounds each.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
