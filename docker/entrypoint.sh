#!/bin/sh
# Container start: apply migrations, make sure a model version is active (train a first one when
# none is), then exec the supervisor (disaster_site/supervisor.py) so it runs as PID 1 and
# receives docker's signals itself: it runs the server and, unless RUN_WORKER=0, the job worker
# (`manage.py db_worker`) at a lower CPU priority (WORKER_NICE), and passes the signals on.
# Any other command (`docker run IMAGE python manage.py ...`) is run as it is.
set -eu

if [ "${1:-}" = gunicorn ]; then
  if [ -n "${TRAIN_DATA:-}" ]; then
    echo "entrypoint: a first model, if one is needed, is trained on TRAIN_DATA=$TRAIN_DATA"
  else
    cat <<MSG
entrypoint: TRAIN_DATA is not set. When no model is active yet, the first one is trained on the
  small sample baked into the image ($PWD/data/sample_tweets.csv): good for a smoke test only.
  To use the real data set (the Kaggle train.csv), either
  - mount it and name it before the first start:
      docker run -v /srv/train.csv:/srv/train.csv:ro -e TRAIN_DATA=/srv/train.csv ...
  - or train and activate a new version in the running container:
      docker cp train.csv CONTAINER:/data/train.csv
      docker exec CONTAINER python manage.py retrain --data /data/train.csv
MSG
  fi
  echo "entrypoint: applying migrations, then making sure a model version is active"
  # Both in one Python process, so Django's start-up (which imports the ML stack) is paid once.
  # System checks ran when the image was built (the code cannot have changed since): skipped.
  python - <<'PY'
import sys

import django
from django.core.management import CommandError, call_command

django.setup()
try:
    call_command("migrate", interactive=False, skip_checks=True)
    call_command("ensure_model", skip_checks=True)
except CommandError as exc:
    sys.exit(f"entrypoint: {exc}")
PY
  echo "entrypoint: starting $*"
  exec python -m disaster_site.supervisor -- "$@"
fi
exec "$@"
