#!/usr/bin/env bash
# Runs Disaster Tweets on one Docker host, the EC2 instance deploy/make-user-data.sh sets up: the
# app container, Caddy in front of it (HTTPS), backups to S3. Installed as /usr/local/bin/disaster-site.
#
#   disaster-site start            network, volume, the app at its current image, Caddy; wait until ready
#   disaster-site deploy IMAGE     pull IMAGE, back up, replace the app container, wait until ready
#   disaster-site rollback         run the image that ran before the last deploy again
#   disaster-site backup           the database (SQLite online backup) and the model artifacts to S3
#   disaster-site restore [NAME]   put a database backup (default: the newest) back, app stopped meanwhile
#   disaster-site status           containers, images, readiness
#
# Settings: /etc/disaster-site/config (DOMAIN, ACME_EMAIL, IMAGE, AWS_REGION, BACKUP_BUCKET,
# SSM_PREFIX). Secrets: every SSM parameter under SSM_PREFIX (SecureString: SECRET_KEY, and e.g.
# DATABASE_URL) becomes an environment variable of the app, written at each start to a file only
# root can read; with SSM_PREFIX empty, /etc/disaster-site/secrets.env (mode 600) is used instead.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}
case ${1:-} in start | deploy | rollback | backup | restore | status) ;; *) usage ;; esac

ETC=${DISASTER_SITE_ETC:-/etc/disaster-site} # another directory in tests only
# shellcheck source=/dev/null
. "$ETC/config"
: "${DOMAIN:?DOMAIN is not set in $ETC/config}" "${IMAGE:?IMAGE is not set in $ETC/config}"
: "${AWS_REGION:?AWS_REGION is not set in $ETC/config}"
ACME_EMAIL=${ACME_EMAIL:-}
BACKUP_BUCKET=${BACKUP_BUCKET:-}
SSM_PREFIX=${SSM_PREFIX:-}
CADDY_IMAGE=${CADDY_IMAGE:-caddy:2}

APP=disaster-site # the app container; Caddy reaches it as `app` on the private network
NETWORK=disaster-site
VOLUME=disaster-data
TRAIN_CSV=/srv/disaster-site/train.csv # mounted read-only as TRAIN_DATA when present
# /readyz from inside the container, with the Host header ALLOWED_HOSTS accepts.
READY_PROBE='import os, urllib.request as r
r.urlopen(r.Request("http://127.0.0.1:8000/readyz",
    headers={"Host": os.environ["ALLOWED_HOSTS"].split(",")[0]}), timeout=5)'

log() { printf 'disaster-site: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}
[ "$(id -u)" = 0 ] || die "run as root (sudo disaster-site ...)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

current_image() { cat "$ETC/image.current" 2>/dev/null || echo "$IMAGE"; }
volume_dir() { docker volume inspect --format '{{.Mountpoint}}' "$VOLUME"; }
app_running() { [ "$(docker inspect --format '{{.State.Running}}' "$APP" 2>/dev/null)" = true ]; }

pull() { # $1: image; logs in first when it lives in ECR (the instance role may read it)
  local registry=${1%%/*}
  case $registry in
    *.dkr.ecr.*.amazonaws.com)
      aws ecr get-login-password --region "$AWS_REGION" |
        docker login --username AWS --password-stdin "$registry" >/dev/null
      ;;
  esac
  docker pull --quiet "$1" >/dev/null
}

write_env() { # the app's environment, secrets included, readable by root only
  local env_file=$work/app.env params
  {
    echo "ALLOWED_HOSTS=$DOMAIN"
    echo "BEHIND_TLS_PROXY=1"
    echo "NUM_PROXIES=1"
    if [ -f "$TRAIN_CSV" ]; then echo "TRAIN_DATA=/srv/train.csv"; fi
  } >"$env_file"
  if [ -n "$SSM_PREFIX" ]; then
    params=$(aws ssm get-parameters-by-path --region "$AWS_REGION" --path "$SSM_PREFIX" \
      --with-decryption --query 'Parameters[*].[Name,Value]' --output text) ||
      die "cannot read the SSM parameters under $SSM_PREFIX (instance role?)"
    while IFS=$'\t' read -r name value; do
      [ -n "$name" ] && printf '%s=%s\n' "${name##*/}" "$value"
    done <<<"$params" >>"$env_file"
  else
    [ "$(stat -c %a "$ETC/secrets.env" 2>/dev/null)" = 600 ] ||
      die "$ETC/secrets.env must exist with mode 600 (or set SSM_PREFIX in $ETC/config)"
    cat "$ETC/secrets.env" >>"$env_file"
  fi
  grep -q '^SECRET_KEY=.' "$env_file" || die "no SECRET_KEY among the secrets (${SSM_PREFIX:-$ETC/secrets.env})"
  install -m 600 "$env_file" "$ETC/app.env"
}

run_app() { # $1: image. Replaces the app container (a few seconds without the app).
  local extra=()
  if [ -f "$TRAIN_CSV" ]; then extra+=(--volume "$TRAIN_CSV:/srv/train.csv:ro"); fi
  if docker inspect "$APP" >/dev/null 2>&1; then
    docker stop --time 30 "$APP" >/dev/null
    docker rm "$APP" >/dev/null
  fi
  # Read-only root filesystem: the only writable places are /data (the volume), /tmp and /dev/shm.
  docker run --detach --name "$APP" --network "$NETWORK" --network-alias app \
    --restart unless-stopped --stop-timeout 30 \
    --env-file "$ETC/app.env" --volume "$VOLUME:/data" "${extra[@]}" \
    --read-only --tmpfs /tmp:rw,size=256m --cap-drop ALL --security-opt no-new-privileges \
    --log-opt max-size=20m --log-opt max-file=5 \
    "$1" >/dev/null
  echo "$1" >"$ETC/image.current"
}

run_caddy() {
  docker rm --force caddy >/dev/null 2>&1 || true
  docker run --detach --name caddy --network "$NETWORK" --restart unless-stopped \
    --publish 80:80 --publish 443:443 \
    --env "DOMAIN=$DOMAIN" --env "ACME_EMAIL=$ACME_EMAIL" \
    --volume "$ETC/Caddyfile:/etc/caddy/Caddyfile:ro" \
    --volume caddy-data:/data --volume caddy-config:/config \
    --log-opt max-size=20m --log-opt max-file=5 \
    "$CADDY_IMAGE" >/dev/null
}

wait_ready() { # the first start trains a model, which can take minutes on the real data
  local deadline=$((SECONDS + 900))
  until docker exec "$APP" python -c "$READY_PROBE" 2>/dev/null; do
    if ((SECONDS > deadline)); then
      docker logs --tail 40 "$APP" >&2
      die "$APP is not ready after 15 minutes (its log above)"
    fi
    sleep 2
  done
  log "$APP is ready: $(current_image)"
}

cmd_start() {
  docker network inspect "$NETWORK" >/dev/null 2>&1 || docker network create "$NETWORK" >/dev/null
  docker volume inspect "$VOLUME" >/dev/null 2>&1 || docker volume create "$VOLUME" >/dev/null
  write_env
  pull "$(current_image)"
  run_app "$(current_image)"
  pull "$CADDY_IMAGE"
  run_caddy
  wait_ready
  log "serving https://$DOMAIN/ (Caddy obtains the certificate once DNS points here)"
}

cmd_deploy() {
  local new=${1:?usage: disaster-site deploy IMAGE} old
  old=$(current_image)
  pull "$new" # before anything stops
  if app_running && [ -n "$BACKUP_BUCKET" ]; then
    cmd_backup # the database as it was before the new image's migrations
  fi
  write_env
  echo "$old" >"$ETC/image.previous"
  run_app "$new"
  wait_ready
  log "deployed $new; \`disaster-site rollback\` runs $old again"
}

cmd_rollback() {
  local previous current
  previous=$(cat "$ETC/image.previous" 2>/dev/null) || die "no previous image recorded"
  current=$(current_image)
  pull "$previous"
  write_env
  run_app "$previous"
  echo "$current" >"$ETC/image.previous"
  wait_ready
  log "rolled back to $previous. If $current had applied new migrations, the old code may not" \
    "fit the database: restore the backup taken before that deploy (disaster-site restore NAME)."
}

cmd_backup() {
  [ -n "$BACKUP_BUCKET" ] || die "BACKUP_BUCKET is not set in $ETC/config"
  app_running || die "$APP is not running"
  local name data
  name=db-$(date -u +%Y%m%dT%H%M%SZ).sqlite3
  data=$(volume_dir)
  # SQLite's online backup API, inside the container: a consistent copy while requests go on
  # (copying the live file with cp could catch it half-written).
  docker exec "$APP" mkdir -p /data/backups
  docker exec "$APP" python manage.py backup --output "/data/backups/$name" >&2
  gzip --stdout "$data/backups/$name" >"$work/$name.gz"
  rm -f "$data/backups/$name"
  aws s3 cp --only-show-errors "$work/$name.gz" "s3://$BACKUP_BUCKET/db/$name.gz"
  # Model artifacts are written once and never changed: sync uploads only the new ones.
  if [ -d "$data/models" ]; then
    aws s3 sync --only-show-errors --exclude ".*" "$data/models" "s3://$BACKUP_BUCKET/models/"
  fi
  log "backed up to s3://$BACKUP_BUCKET/db/$name.gz and s3://$BACKUP_BUCKET/models/"
}

cmd_restore() {
  [ -n "$BACKUP_BUCKET" ] || die "BACKUP_BUCKET is not set in $ETC/config"
  local name=${1:-} data owner saved
  if [ -z "$name" ]; then
    name=$(aws s3 ls "s3://$BACKUP_BUCKET/db/" | awk '{print $4}' | sort | tail -1)
    [ -n "$name" ] || die "no backup in s3://$BACKUP_BUCKET/db/"
  fi
  name=${name#db/}
  aws s3 cp --only-show-errors "s3://$BACKUP_BUCKET/db/$name" "$work/db.sqlite3.gz"
  gunzip "$work/db.sqlite3.gz"
  data=$(volume_dir)
  owner=$(docker inspect --format '{{.Config.User}}' "$APP")
  # The artifacts the restored database names (they are checked against its SHA-256 on load).
  aws s3 sync --only-show-errors "s3://$BACKUP_BUCKET/models/" "$data/models/"
  docker stop --time 30 "$APP" >/dev/null
  # Keep what was there, WAL files included, and never pair the old WAL with the new database.
  saved=$data/before-restore-$(date -u +%Y%m%dT%H%M%SZ)
  mkdir "$saved"
  for file in db.sqlite3 db.sqlite3-wal db.sqlite3-shm; do
    if [ -e "$data/$file" ]; then mv "$data/$file" "$saved/"; fi
  done
  install -m 600 "$work/db.sqlite3" "$data/db.sqlite3"
  chown -R "$owner" "$data/db.sqlite3" "$data/models"
  docker start "$APP" >/dev/null
  wait_ready
  log "restored $name (the replaced files are in the volume's $(basename "$saved"))"
}

cmd_status() {
  docker ps --all --filter "name=$APP" --filter name=caddy \
    --format 'table {{.Names}}\t{{.Image}}\t{{.Status}}'
  echo "current image:  $(current_image)"
  echo "previous image: $(cat "$ETC/image.previous" 2>/dev/null || echo none)"
  if docker exec "$APP" python -c "$READY_PROBE" 2>/dev/null; then echo "ready"; else echo "NOT ready"; fi
}

"cmd_$1" "${@:2}"
