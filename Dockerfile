# syntax=docker/dockerfile:1
# Disaster Tweets, production image: gunicorn serving Django as a non-root user, and beside it the
# background job worker (`manage.py db_worker`, at a lower CPU priority), both run by
# disaster_site/supervisor.py; all writable state (the SQLite database and the model artifacts) in
# the /data volume. RUN_WORKER=0: gunicorn alone (the worker runs elsewhere: deploy/compose.yaml).
# README: "Deploying".
#   docker build -t disaster-site .
#   docker run -p 127.0.0.1:8000:8000 -v disaster-data:/data -e SECRET_KEY=... disaster-site
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the virtualenv, the code, the static files ------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# The pinned requirements as binary wheels (no compiler anywhere). Then drop what only building or
# testing needs: the test suites the packages ship (numpy's, scipy's and scikit-learn's are the
# largest), C and Cython sources, headers and type stubs, translations (the service speaks English
# only: no LocaleMiddleware, LANGUAGE_CODE en-us), pip and setuptools: a much smaller image
# (its size: docs/performance.md, make container-test).
RUN /opt/venv/bin/pip install --no-cache-dir --only-binary=:all: -r /tmp/requirements.txt \
 && site=$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') \
 && find "$site" -depth -type d -name tests -exec rm -rf {} + \
 && find "$site" -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.c' \
      -o -name '*.cpp' -o -name '*.h' -o -name '*.pyi' -o -name '*.po' \) -delete \
 && find "$site" -path '*/locale/*' -name '*.mo' ! -path '*/locale/en/*' -delete \
 && /opt/venv/bin/python -m pip uninstall --yes --quiet pip setuptools

WORKDIR /app
COPY manage.py gunicorn.conf.py ./
COPY disaster_site ./disaster_site
COPY predictor ./predictor
COPY ml ./ml
COPY templates ./templates
COPY static ./static
# The small sample a first model is trained on when TRAIN_DATA names no real data set.
COPY data/sample_tweets.csv ./data/sample_tweets.csv
COPY docker ./docker
# At build time, since the code is read-only at run time: the static files, hashed and compressed
# for whitenoise; Django's system checks (so the entrypoint can skip them and start faster); the
# bytecode. The key only lets the settings load. Once collected, the packages' own copies of their
# static files are never read (whitenoise serves STATIC_ROOT); ReDoc is not served (the API docs
# are Swagger UI).
ENV PATH=/opt/venv/bin:$PATH
RUN export SECRET_KEY=build-time-only-not-a-secret DEBUG=0 ENV_FILE= DATA_DIR=/tmp/build-data \
 && python manage.py collectstatic --noinput -v 0 --ignore redoc \
 && python manage.py check --fail-level WARNING \
 && python -m compileall -q disaster_site predictor ml \
 && site=$(python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') \
 && rm -rf "$site"/django/contrib/*/static "$site"/rest_framework/static \
      "$site"/drf_spectacular_sidecar/static

# --- final: the base image, the venv and the code, nothing else ---------------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=disaster_site.settings \
    ENV_FILE= \
    DEBUG=0 \
    DATA_DIR=/data \
    PORT=8000 \
    WEB_CONCURRENCY=2 \
    RUN_WORKER=1 \
    WORKER_NICE=10

# A fixed numeric id, so a bind-mounted data directory can be prepared with `chown 10001:10001`.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app \
 && mkdir /data && chown app:app /data

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
STOPSIGNAL SIGTERM
# /healthz says the server answers (no database, no model), and a job worker process must be alive
# unless RUN_WORKER=0. The slim image has no curl (nor ps: the check reads /proc).
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]
# The entrypoint runs a `gunicorn` command through the supervisor (any other command as it is).
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["gunicorn", "--config", "/app/gunicorn.conf.py", "disaster_site.wsgi:application"]
