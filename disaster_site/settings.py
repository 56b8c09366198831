"""Django settings for Disaster Tweets: every value that varies between machines comes from the
environment (or a local, git-ignored `.env` file written by `make setup`), and only here."""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.conf import global_settings
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a local `.env` file; blank lines and `#` comments are skipped."""
    if not path.name or not path.is_file():
        return {}
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


# The process environment wins over the env file (ENV_FILE, default `.env`; set ENV_FILE= to read
# none). The container image never ships one.
_ENV = {**_read_env_file(Path(os.environ.get("ENV_FILE", BASE_DIR / ".env"))), **os.environ}


def env_str(name: str, default: str = "") -> str:
    return _ENV.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = _ENV.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_float(name: str, default: float) -> float:
    value = env_str(name)
    try:
        return float(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    try:
        return int(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


# Core
# -------------------------------------------------------------------------------------------------
# DATA_DIR holds all writable state: the SQLite database and the model artifacts.
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. In production set it to a long random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'); "
            "for local work run `make setup`, which writes one to .env."
        )
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 (DEBUG only)  # nosec B105

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "127.0.0.1,localhost"
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "predictor",
]

MIDDLEWARE = [
    "predictor.middleware.HealthCheckMiddleware",
    # /metrics for the networks allowed, before host validation (a scraper on the private network
    # names the instance by its address) and before the request metrics (scrapes are not traffic).
    "predictor.middleware.MetricsMiddleware",
    # django-prometheus's request metrics (a subset: predictor.metrics.RequestMetrics).
    "predictor.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The hot POST /api/predictions/ (predictor.api.fast); what it does not answer goes on.
    "predictor.middleware.PredictionFastPathMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "predictor.middleware.StaticCSPMiddleware",
    # "Not now" failures (no model, a database that refuses) as 503 pages that say why.
    "predictor.middleware.ServiceUnavailableMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "disaster_site.urls"
WSGI_APPLICATION = "disaster_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

TIME_ZONE = env_str("TIME_ZONE", "UTC")

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Django's storages, except that without DEBUG static files are the hashed, compressed copies
# collectstatic wrote (WhiteNoise).
STORAGES = {**global_settings.STORAGES}
if not DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
# collectstatic keeps only the hashed, compressed copies ({% static %} asks for those): half the
# image's static files.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# Database
# -------------------------------------------------------------------------------------------------
# SQLite in DATA_DIR by default; DATABASE_URL (e.g. postgres://...) selects another database.
DATABASE_URL = env_str("DATABASE_URL")
# SQLite: each gunicorn worker checkpoints the write-ahead log this often in a background thread
# (predictor/sqlite_checkpoint.py); a commit then checkpoints by itself only past 10,000 pages
# (~40 MB of log), not SQLite's 1,000, which put a checkpoint into every ~1,000th request.
# 0: no thread, SQLite's own checkpoints.
SQLITE_CHECKPOINT_SECONDS = env_float("SQLITE_CHECKPOINT_SECONDS", 1.0)
_AUTOCHECKPOINT_PAGES = 10_000 if SQLITE_CHECKPOINT_SECONDS > 0 else 1_000
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            "CONN_MAX_AGE": None,
            "OPTIONS": {
                # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at
                # BEGIN so concurrent writers wait (busy_timeout) instead of failing with
                # "database is locked" when a read transaction tries to upgrade.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA busy_timeout=20000;"
                    "PRAGMA foreign_keys=ON;"
                    f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_PAGES};"
                ),
            },
        }
    }


# Cache
# -------------------------------------------------------------------------------------------------
# Redis when REDIS_URL is set (shared by every worker and instance), else per-process memory.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "disaster",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


# Security
# -------------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes: after LOGIN_FAILURE_LIMIT failed logins from one client address, or for one
# username, further attempts answer 429 for LOGIN_COOLOFF_MINUTES (reset early with
# `manage.py axes_reset`). Axes' backend must come first: it refuses a locked-out attempt
# before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_float("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
# The client address as the API throttle sees it (NUM_PROXIES hops back in X-Forwarded-For), so
# behind the proxy one guesser does not lock out everyone who shares the proxy's address.
AXES_CLIENT_IP_CALLABLE = "predictor.client_ip.client_ip"

# django-csp: only this origin's files may run or style a page; no inline script or style, no
# framing, forms post only here. Swagger UI is served as a page plus a separate script
# (SpectacularSwaggerSplitView) so it needs no exception; `data:` images are its icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Plain HTTP by default, as `make serve` on loopback needs. In production the app sits behind a
# TLS-terminating proxy (Caddy, see deploy/): set BEHIND_TLS_PROXY=1 and every HTTPS-only setting
# below turns on, so `manage.py check --deploy` is clean. Each one can still be set on its own.
# The other headers check --deploy asks for (nosniff, DENY framing, same-origin referrer and
# opener policies, HttpOnly session cookie) are Django's defaults.
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    # Trust the proxy's X-Forwarded-Proto. Safe only because the app's port is reachable from the
    # proxy alone (Caddy replaces whatever X-Forwarded-Proto a client sends).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", BEHIND_TLS_PROXY)
# Probes that reach the container directly over plain HTTP are not redirected (/healthz is
# answered before this middleware anyway).
SECURE_REDIRECT_EXEMPT = [r"^readyz$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", BEHIND_TLS_PROXY)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", BEHIND_TLS_PROXY)
# HSTS: browsers refuse plain HTTP to this host for that long. A year once HTTPS works for good;
# lower it (e.g. 3600) while trying a new domain out.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if BEHIND_TLS_PROXY else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", BEHIND_TLS_PROXY)
# Preloading is the domain owner's decision (it asks browsers to hard-code HTTPS for the whole
# registered domain, see hstspreload.org), not this app's: off unless asked for, and Django's
# reminder about it is silenced only while it is off.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]


# API
# -------------------------------------------------------------------------------------------------
# Anonymous prediction calls per client address, e.g. "120/min"; "none" turns the limit off.
PREDICTION_THROTTLE_RATE = env_str("PREDICTION_THROTTLE_RATE", "120/min")
# One anonymous tweet posted as JSON is answered by predictor.api.fast ahead of the session,
# CSRF, authentication and messages middleware and DRF, with the same answer (0: the full path
# for every call).
PREDICTION_FAST_PATH = env_bool("PREDICTION_FAST_PATH", True)

# The largest request body read into memory (Django's default is 2.5 MB). A batch of 1,000
# tweets at the length limits is ~1.2 MB of plain ASCII but ~7.2 MB when every character is sent
# as a \uXXXX escape; 8 MB lets such batches through and still bounds what one request holds.
# Over it, the API answers 413 with the limit (predictor.views.bad_request).
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024

_RENDERERS = ["rest_framework.renderers.JSONRenderer"]
if DEBUG:
    _RENDERERS.append("rest_framework.renderers.BrowsableAPIRenderer")

REST_FRAMEWORK = {
    # Token first: an unauthenticated call then gets 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["predictor.api.permissions.StaffModelPermissions"],
    "DEFAULT_PARSER_CLASSES": ["predictor.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": _RENDERERS,
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "predictor.api.schema.AutoSchema",
    # DRF's handler, plus 503 (not 500) when the database cannot take the request.
    "EXCEPTION_HANDLER": "predictor.api.exceptions.exception_handler",
    # Proxies in front of the app (1 behind Caddy): the client address comes from
    # X-Forwarded-For only that many hops back, so a client cannot choose its own.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Disaster Tweets API",
    "DESCRIPTION": "Classify short posts as about a real disaster or not; review and relabel "
    "stored predictions; list model versions.",
    "VERSION": "1.0.0",
    # Say of each query parameter what the server does with it (predictor/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "predictor.api.schema.query_parameters_as_parsed",
    ],
    # One schema name for the label choices, which several API fields share (else warning
    # drf_spectacular.W001, which check --deploy reports too).
    "ENUM_NAME_OVERRIDES": {"LabelEnum": "predictor.models.Label"},
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}


# Model
# -------------------------------------------------------------------------------------------------
MODELS_DIR = DATA_DIR / "models"
# The base training data: TRAIN_DATA when set, else the small sample shipped in the repository.
SAMPLE_TRAIN_DATA = BASE_DIR / "data" / "sample_tweets.csv"
TRAIN_DATA = env_str("TRAIN_DATA")
# Where model artifacts are shared from: "filesystem" (DATA_DIR/models only) or "database" (the
# bytes also go into the database, so every instance sharing it can load any version; the local
# directory is then a verified cache). Default: database when DATABASE_URL is set.
MODEL_STORE = env_str("MODEL_STORE", "database" if DATABASE_URL else "filesystem")
if MODEL_STORE not in {"filesystem", "database"}:
    raise ImproperlyConfigured(f"MODEL_STORE must be filesystem or database, not {MODEL_STORE!r}")
# How often (seconds) a process checks whether another process activated a new model version.
ACTIVE_MODEL_CHECK_SECONDS = env_float("ACTIVE_MODEL_CHECK_SECONDS", 1.0)
# The share of the base data held out as the evaluation set (grouped by near-duplicates,
# stratified by label), on which every version is scored and the promotion gate decides.
EVALUATION_SHARE = env_float("EVALUATION_SHARE", 0.2)
# The share of the review queue's items drawn at random as the audit sample: their reviews
# estimate live accuracy without the queue's bias and join the evaluation set, not training.
AUDIT_SHARE = env_float("AUDIT_SHARE", 0.1)
for _name, _share in (("EVALUATION_SHARE", EVALUATION_SHARE), ("AUDIT_SHARE", AUDIT_SHARE)):
    if not 0 <= _share < 1 or (_name == "EVALUATION_SHARE" and not _share):
        raise ImproperlyConfigured(f"{_name} must be a share between 0 and 1, not {_share}")
# The share of first reviews (given in the review queue or through the API, one item at a time)
# sent back to the queue for a second, different reviewer; 0 turns double review off, 1 sends all.
DOUBLE_REVIEW_SHARE = env_float("DOUBLE_REVIEW_SHARE", 0.1)
if not 0 <= DOUBLE_REVIEW_SHARE <= 1:
    raise ImproperlyConfigured(
        f"DOUBLE_REVIEW_SHARE must be a share between 0 and 1, not {DOUBLE_REVIEW_SHARE}"
    )


# Background jobs
# -------------------------------------------------------------------------------------------------
# Trainings and CSV files are queued in the database and run by `manage.py db_worker`
# (django-tasks with django-tasks-db: SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL, so several
# workers never claim the same task).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# A running job's worker writes a heartbeat this often (seconds); a job whose heartbeat is older
# than JOB_STALE_SECONDS is taken for dead: marked failed, its partial output discarded.
JOB_HEARTBEAT_SECONDS = env_float("JOB_HEARTBEAT_SECONDS", 5.0)
JOB_STALE_SECONDS = env_float("JOB_STALE_SECONDS", 60.0)
if not 0 < JOB_HEARTBEAT_SECONDS < JOB_STALE_SECONDS:
    raise ImproperlyConfigured("JOB_HEARTBEAT_SECONDS must be above 0 and below JOB_STALE_SECONDS")
# CSV scoring: the largest file (bytes) and the most rows one job takes; rows stored per chunk;
# processes that score chunks side by side (at the worker's lower CPU priority).
CSV_MAX_BYTES = env_int("CSV_MAX_BYTES", 50 * 1024 * 1024)
CSV_MAX_ROWS = env_int("CSV_MAX_ROWS", 200_000)
CSV_CHUNK_ROWS = env_int("CSV_CHUNK_ROWS", 2_000)
CSV_SCORING_PROCESSES = env_int("CSV_SCORING_PROCESSES", os.cpu_count() or 1)


# Metrics and drift
# -------------------------------------------------------------------------------------------------
# /metrics (Prometheus) answers clients in these networks (the client address as throttles see it,
# NUM_PROXIES hops back in X-Forwarded-For); anyone else gets 404. Default: loopback and the
# private ranges.
METRICS_ALLOWED_NETWORKS = []
for _network in env_list(
    "METRICS_ALLOWED_NETWORKS",
    "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7",
):
    try:
        METRICS_ALLOWED_NETWORKS.append(ipaddress.ip_network(_network, strict=False))
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_NETWORKS: {_network!r} is not a network (e.g. 10.0.0.0/8)"
        ) from None
# The request latency histograms of django-prometheus (per view and method): from 5 ms, as a
# prediction takes a few; 12 buckets instead of its 17, each one a series per view and method.
PROMETHEUS_LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    float("inf"),
)
# How long (seconds) a process reuses the figures it read from the database for /metrics (the
# review queue, jobs, drift, live accuracy), so that frequent scrapes do not rescan a week of
# predictions each time.
METRICS_CACHE_SECONDS = env_float("METRICS_CACHE_SECONDS", 30.0)
# Drift of live traffic against the active version's reference figures (held-out training rows):
# past these differences the dashboard warns and disaster_drift_warning is 1. No warning while a
# window holds fewer than DRIFT_MIN_PREDICTIONS predictions. The share of words not in the
# vocabulary is measured on the last DRIFT_OOV_SAMPLE predictions.
DRIFT_DISASTER_SHARE_DELTA = env_float("DRIFT_DISASTER_SHARE_DELTA", 0.15)
DRIFT_MEAN_PROBABILITY_DELTA = env_float("DRIFT_MEAN_PROBABILITY_DELTA", 0.10)
DRIFT_OOV_DELTA = env_float("DRIFT_OOV_DELTA", 0.10)
DRIFT_MIN_PREDICTIONS = env_int("DRIFT_MIN_PREDICTIONS", 100)
DRIFT_OOV_SAMPLE = env_int("DRIFT_OOV_SAMPLE", 2000)
# Live accuracy (the audit sample's reviews of the last LIVE_ACCURACY_DAYS) warns when even the
# top of its 95% interval is more than LIVE_ACCURACY_DELTA below the evaluation set's accuracy.
LIVE_ACCURACY_DAYS = env_int("LIVE_ACCURACY_DAYS", 30)
LIVE_ACCURACY_DELTA = env_float("LIVE_ACCURACY_DELTA", 0.05)
for _name in (
    "DRIFT_DISASTER_SHARE_DELTA",
    "DRIFT_MEAN_PROBABILITY_DELTA",
    "DRIFT_OOV_DELTA",
    "LIVE_ACCURACY_DELTA",
):
    if not 0 < globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be between 0 and 1, not {globals()[_name]}")
if DRIFT_OOV_SAMPLE < 1 or LIVE_ACCURACY_DAYS < 1 or METRICS_CACHE_SECONDS < 0:
    raise ImproperlyConfigured(
        "DRIFT_OOV_SAMPLE and LIVE_ACCURACY_DAYS must be 1 or more, METRICS_CACHE_SECONDS 0 or more"
    )


# Logging
# -------------------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # django-axes greets every process start at INFO; its lockouts are warnings.
        "axes.apps": {"level": "WARNING"},
    },
}
