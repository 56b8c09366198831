#!/usr/bin/env bash
# `make container-test`: build the real Dockerfile with buildah and check the container the way
# `docker run` starts it: the image's own ENTRYPOINT, CMD and USER, an empty /data volume, a free
# port. Then stop it and start a new container on the same volume. Needs buildah and the local
# stand-in base image (../shared/tools/container-base.sh, which the make target runs first; see
# ../shared/docs/container.md). The last line printed is the image size.
#
#   IMAGE=localhost/disaster-site:test   tag to build
#   TRAIN_DATA=/path/train.csv           mounted read-only and named to the container (optional:
#                                        without it the first model learns the baked-in sample)
#   MAX_IMAGE_MB=450 MAX_PSS_MB=500      budgets that fail the test; MAX_READY_SECONDS=5 warns
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/disaster-site:test}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-1500}
FIRST_START_TIMEOUT=${FIRST_START_TIMEOUT:-600}
START_TIMEOUT=${START_TIMEOUT:-120}
MAX_IMAGE_MB=${MAX_IMAGE_MB:-450}
MAX_PSS_MB=${MAX_PSS_MB:-500}
MAX_READY_SECONDS=${MAX_READY_SECONDS:-5}

log() { printf 'container-test: %s\n' "$*" >&2; }
fail() {
  if [ -n "${server_log:-}" ] && [ -s "$server_log" ]; then
    log "the container's output, last lines:"
    tail -30 "$server_log" >&2
  fi
  log "FAIL: $*"
  exit 1
}
for tool in buildah curl python3; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (buildah: run ../shared/tools/container-base.sh)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/disaster-container-test.XXXXXX")
containers=()
server_pid=""
server_log=""

# The gunicorn processes under the `buildah run` process $1 (which runs the container's command
# under a buildah-chroot-exec supervisor), one line each:
# pid ppid uid parent_name rss_kB pss_kB.
gunicorn_processes() {
  python3 - "$1" <<'PY'
import os, sys

def children(pid):
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return found

def field(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split()[1]
    return "0"

def rollup(pid, name):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return line.split()[1]
    except OSError:
        pass
    return "0"

todo, seen = [int(sys.argv[1])], []
while todo:
    pid = todo.pop()
    try:
        todo += children(pid)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
    except OSError:
        continue
    # gunicorn itself (python .../bin/gunicorn), not the wrappers whose arguments name it.
    program = [os.path.basename(arg) for arg in argv[:2]]
    if program[0] == "gunicorn" or (program[0].startswith("python") and program[1:] == ["gunicorn"]):
        seen.append(pid)
for pid in sorted(seen):
    ppid = field(pid, "PPid")
    with open(f"/proc/{ppid}/comm") as f:
        parent = f.read().strip()
    print(pid, ppid, field(pid, "Uid"), parent, rollup(pid, "Rss"), rollup(pid, "Pss"))
PY
}

# The gunicorn master: the gunicorn process whose parent is not gunicorn (what `docker stop`
# signals: PID 1 of the container, since the entrypoint execs it).
gunicorn_master() {
  gunicorn_processes "$1" | awk '$4 !~ /gunicorn/ && !found {print $1; found = 1}'
}

stop_server() {
  [ -n "$server_pid" ] || return 0
  local master status=0 deadline=$((SECONDS + 40))
  master=$(gunicorn_master "$server_pid" || true)
  if [ -n "$master" ]; then
    kill -TERM "$master" 2>/dev/null || true
  else
    kill -TERM "$server_pid" 2>/dev/null || true
  fi
  while kill -0 "$server_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$server_pid" 2>/dev/null; then
    log "the server did not stop within 40 s of SIGTERM; killing it"
    for pid in $(gunicorn_processes "$server_pid" | awk '{print $1}'); do kill -KILL "$pid" 2>/dev/null || true; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" || status=$?
  server_pid=""
  return "$status"
}

cleanup() {
  stop_server >/dev/null 2>&1 || true
  for ctr in "${containers[@]}"; do buildah rm "$ctr" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }

# --- build -----------------------------------------------------------------------------------
log "building $IMAGE from ./Dockerfile (buildah, chroot isolation)"
previous=$(buildah inspect --type image --format '{{.FromImageID}}' "$IMAGE" 2>/dev/null || true)
t0=$(now)
timeout "$BUILD_TIMEOUT" buildah bud --isolation chroot --pull=never --format docker --layers \
  -t "$IMAGE" . >"$work/build.log" 2>&1 || {
  tail -40 "$work/build.log" >&2
  fail "the image did not build (log above)"
}
log "built in $(elapsed "$t0" "$(now)") s"
# The image this build replaced under the same tag. (The layer cache stays, for the next build:
# `buildah rmi --prune` frees it.)
if [ -n "$previous" ] && [ "$previous" != "$(buildah inspect --type image --format '{{.FromImageID}}' "$IMAGE")" ]; then
  buildah rmi "$previous" >/dev/null 2>&1 || true
fi

# What `docker run` would run: ENTRYPOINT + CMD, as USER, and the HEALTHCHECK command.
buildah inspect --type image "$IMAGE" >"$work/image.json"
config() {
  python3 -c '
import json, sys
config = json.load(open(sys.argv[1]))["Docker"]["config"]
value = config.get(sys.argv[2]) or []
if sys.argv[2] == "Healthcheck":
    test = value.get("Test") or []
    assert test and test[0] == "CMD", f"HEALTHCHECK must be exec form, not {test}"
    value = test[1:]
print(*([value] if isinstance(value, str) else value), sep="\n")
' "$work/image.json" "$1"
}
mapfile -t entrypoint < <(config Entrypoint)
mapfile -t cmd < <(config Cmd)
mapfile -t healthcheck < <(config Healthcheck)
user=$(config User)
[ "${#entrypoint[@]}" -gt 0 ] || fail "the image has no ENTRYPOINT"
[ -n "$user" ] || fail "the image has no USER (it would run as root)"
[ "$(config Volumes)" = /data ] || fail "the image must declare VOLUME /data (and no other)"
log "entrypoint: ${entrypoint[*]} ${cmd[*]}; user: $user; healthcheck: ${healthcheck[*]}"

new_container() {
  ctr=$(buildah from --pull=never "$IMAGE")
  containers+=("$ctr")
  # buildah (1.28) mounts a directory of its own over a declared VOLUME even when --volume names
  # one. Drop the declaration from this working container (the image keeps it), so /data is the
  # directory given, as with `docker run -v`.
  buildah config --volume /data- "$ctr"
}
new_container
uid=$(buildah run --isolation chroot --user "$user" "$ctr" -- id -u)
gid=$(buildah run --isolation chroot --user "$user" "$ctr" -- id -g)
[ "$uid" != 0 ] || fail "USER $user is root"

# An empty data volume, owned by the image's user as Docker's named volumes are.
data=$work/data
mkdir "$data"
chown "$uid:$gid" "$data"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
secret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')
base=http://127.0.0.1:$port
run_args=(--isolation chroot --user "$user" --env "SECRET_KEY=$secret" --env "PORT=$port"
  --volume "$data:/data")
if [ -n "${TRAIN_DATA:-}" ]; then
  [ -f "$TRAIN_DATA" ] || fail "TRAIN_DATA=$TRAIN_DATA is not a file"
  run_args+=(--volume "$(realpath "$TRAIN_DATA"):/srv/train.csv:ro" --env TRAIN_DATA=/srv/train.csv)
  log "training data: $TRAIN_DATA (mounted as /srv/train.csv)"
fi

start_server() { # $1: a name for the log
  server_log=$work/$1.log
  buildah run "${run_args[@]}" "$ctr" -- "${entrypoint[@]}" "${cmd[@]}" >"$server_log" 2>&1 &
  server_pid=$!
}

wait_ready() { # $1: timeout in seconds
  local deadline=$((SECONDS + $1))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ]; do
    kill -0 "$server_pid" 2>/dev/null || fail "the container exited before /readyz answered 200"
    ((SECONDS < deadline)) || fail "/readyz did not answer 200 within $1 s"
    sleep 0.1
  done
}

status_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

predict() { # prints the new prediction's id
  local body code
  body=$(curl -s -w '\n%{http_code}' -H 'Content-Type: application/json' \
    -d '{"text": "Forest fire near La Ronge Sask. Canada"}' "$base/api/predictions/")
  code=${body##*$'\n'}
  [ "$code" = 201 ] || fail "POST /api/predictions/ answered $code: ${body%$'\n'*}"
  python3 -c 'import json, sys; print(json.loads(sys.argv[1])["id"])' "${body%$'\n'*}"
}

in_container() { buildah run "${run_args[@]}" "$ctr" -- "$@"; }

stored_predictions() {
  in_container python manage.py shell --verbosity 0 --command \
    'from predictor.models import Prediction; print(Prediction.objects.count())' </dev/null
}

# --- first start: empty volume -----------------------------------------------------------------
log "first start on an empty volume, port $port"
t0=$(now)
start_server first
wait_ready "$FIRST_START_TIMEOUT"
log "ready (migrated, trained a first model) in $(elapsed "$t0" "$(now)") s"
if [ ! -s "$data/db.sqlite3" ] || [ -z "$(ls -A "$data/models")" ]; then
  fail "no database or model artifact in the directory mounted as /data"
fi

[ "$(status_of "$base/healthz")" = 200 ] || fail "/healthz did not answer 200"
[ "$(status_of -H 'Host: 10.0.12.34:8000' "$base/healthz")" = 200 ] ||
  fail "/healthz with a foreign Host header did not answer 200"
[ "$(status_of -H 'Host: evil.example' "$base/")" = 400 ] ||
  fail "a page with a foreign Host header was not refused (ALLOWED_HOSTS is not enforced)"
log "ok: /healthz 200, also with a foreign Host header (other pages refuse that host: 400)"

first_id=$(predict)
count=$(stored_predictions)
[ "$count" = 1 ] || fail "the prediction was not stored: $count stored predictions, not 1"
log "ok: POST /api/predictions/ 201, stored (id $first_id)"

in_container "${healthcheck[@]}" || fail "the HEALTHCHECK command exited $?"
log "ok: the HEALTHCHECK command exits 0"

# Load the model in every worker (each /readyz asks its worker's model), then measure.
for _ in $(seq 20); do status_of "$base/readyz" >/dev/null; done
gunicorn_processes "$server_pid" >"$work/processes"
[ -s "$work/processes" ] || fail "no gunicorn process found"
awk -v uid="$uid" '$3 != uid {bad = 1} END {exit bad}' "$work/processes" ||
  fail "a server process does not run as uid $uid: $(cat "$work/processes")"
master=$(gunicorn_master "$server_pid")
parent=$(awk -v pid="$master" '$1 == pid {print $4}' "$work/processes")
case $parent in sh | dash | bash | entrypoint.sh) fail "gunicorn runs under $parent: the entrypoint did not exec it" ;; esac
read -r processes rss_mb pss_mb < <(awk '{n++; rss += $5; pss += $6} END {printf "%d %.0f %.0f\n", n, rss/1024, pss/1024}' "$work/processes")
log "ok: $processes gunicorn processes, all uid $uid (not root); the master is the entrypoint's exec"
log "memory: RSS sum $rss_mb MB, PSS sum $pss_mb MB (budget $MAX_PSS_MB MB PSS)"
((pss_mb <= MAX_PSS_MB)) || fail "the container uses $pss_mb MB PSS, over $MAX_PSS_MB MB"

# check --deploy with the production settings the README gives, inside the image.
in_container env BEHIND_TLS_PROXY=1 NUM_PROXIES=1 ALLOWED_HOSTS=tweets.example.com \
  python manage.py check --deploy --fail-level WARNING >"$work/check.log" 2>&1 || {
  cat "$work/check.log" >&2
  fail "manage.py check --deploy is not clean with the production settings"
}
log "ok: manage.py check --deploy --fail-level WARNING is clean behind the TLS proxy"

stop_server || fail "the server did not exit cleanly on SIGTERM (status $?)"
log "ok: SIGTERM stops it cleanly"

# --- second start: a new container on the same volume ------------------------------------------
buildah rm "$ctr" >/dev/null
new_container
t0=$(now)
start_server second
wait_ready "$START_TIMEOUT"
ready=$(elapsed "$t0" "$(now)")
log "ready again with the existing model in $ready s (target $MAX_READY_SECONDS s)"
if python3 -c 'import sys; sys.exit(float(sys.argv[1]) > float(sys.argv[2]))' "$ready" "$MAX_READY_SECONDS"; then :; else
  log "WARNING: start-up took longer than $MAX_READY_SECONDS s"
fi
count=$(stored_predictions)
[ "$count" = 1 ] || fail "the history did not survive a restart: $count stored predictions, not 1"
second_id=$(predict)
((second_id > first_id)) || fail "prediction ids restarted ($second_id after $first_id)"
log "ok: the history survived: 1 stored prediction before, id $second_id after $first_id"
stop_server || fail "the server did not exit cleanly on SIGTERM (status $?)"

size=$(buildah images --format '{{.Size}}' "$IMAGE" | head -1)
size_mb=$(python3 -c '
import sys
number, unit = sys.argv[1].split()
print(round(float(number) * {"B": 1e-6, "kB": 1e-3, "MB": 1, "GB": 1e3}[unit]))
' "$size")
((size_mb <= MAX_IMAGE_MB)) || fail "the image is $size, over $MAX_IMAGE_MB MB"
log "PASS"
echo "image size: $size ($IMAGE)"
