#!/usr/bin/env bash
# `make container-test`: build the real Dockerfile with buildah and check the container the way
# `docker run` starts it: the image's own ENTRYPOINT, CMD and USER, an empty /data volume, a free
# port; gunicorn and the job worker (at a lower CPU priority) under the supervisor, a CSV file
# scored by the worker. Then stop it and start a new container on the same volume. Needs buildah and the local
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

# The container's own processes under the `buildah run` process $1 (which runs the container's
# command under a buildah-chroot-exec supervisor), one line each:
# role pid ppid uid nice parent_role rss_kB pss_kB, where role is supervisor (our
# disaster_site/supervisor.py), gunicorn, worker (manage.py db_worker, and the processes it forks
# to score a CSV file) or, for a parent only, its command name.
container_processes() {
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

def nice(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[16]

def rollup(pid, name):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return line.split()[1]
    except OSError:
        pass
    return "0"

def role(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
    except OSError:
        return None
    # The programs themselves, not the wrappers whose arguments name them.
    program = [os.path.basename(arg) for arg in argv[:3]]
    python = program[0].startswith("python")
    if program[0] == "gunicorn" or (python and program[1:2] == ["gunicorn"]):
        return "gunicorn"
    if python and program[1:3] == ["-m", "disaster_site.supervisor"]:
        return "supervisor"
    if python and program[1:2] == ["manage.py"] and "db_worker" in argv:
        return "worker"
    return None

todo, seen = [int(sys.argv[1])], {}
while todo:
    pid = todo.pop()
    try:
        todo += children(pid)
    except OSError:
        continue
    if (found := role(pid)) is not None:
        seen[pid] = found
for pid in sorted(seen):
    try:
        ppid = int(field(pid, "PPid"))
        with open(f"/proc/{ppid}/comm") as f:
            parent = seen.get(ppid) or f.read().strip()
        print(seen[pid], pid, ppid, field(pid, "Uid"), nice(pid), parent,
              rollup(pid, "Rss"), rollup(pid, "Pss"))
    except OSError:  # it exited meanwhile
        pass
PY
}

# The pid of the first process of role $2 whose parent has role (or name) $3.
process_of() { # $1: the buildah run pid
  container_processes "$1" | awk -v role="$2" -v parent="$3" '$1 == role && $6 == parent && !found {print $2; found = 1}'
}

stop_server() {
  [ -n "$server_pid" ] || return 0
  local top status=0 deadline=$((SECONDS + 40))
  # What `docker stop` signals: PID 1 of the container, the supervisor the entrypoint execs.
  top=$(container_processes "$server_pid" | awk '$1 == "supervisor" {print $2; exit}' || true)
  kill -TERM "${top:-$server_pid}" 2>/dev/null || true
  while kill -0 "$server_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$server_pid" 2>/dev/null; then
    log "the server did not stop within 40 s of SIGTERM; killing it"
    for pid in $(container_processes "$server_pid" | awk '{print $2}'); do kill -KILL "$pid" 2>/dev/null || true; done
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

# The processes: the supervisor (PID 1, exec'd by the entrypoint), gunicorn under it, and the job
# worker at a lower CPU priority; none as root.
container_processes "$server_pid" >"$work/processes"
supervisor=$(awk '$1 == "supervisor" {print $2}' "$work/processes")
[ "$(wc -w <<<"$supervisor")" = 1 ] || fail "not one supervisor process: $(cat "$work/processes")"
parent=$(awk '$1 == "supervisor" {print $6}' "$work/processes")
case $parent in sh | dash | bash | entrypoint.sh) fail "the supervisor runs under $parent: the entrypoint did not exec it" ;; esac
master=$(process_of "$server_pid" gunicorn supervisor)
[ -n "$master" ] || fail "no gunicorn master under the supervisor: $(cat "$work/processes")"
worker=$(process_of "$server_pid" worker supervisor)
[ -n "$worker" ] || fail "no job worker (manage.py db_worker) under the supervisor: $(cat "$work/processes")"
awk -v uid="$uid" '$4 != uid {bad = 1} END {exit bad}' "$work/processes" ||
  fail "a server process does not run as uid $uid: $(cat "$work/processes")"
master_nice=$(awk -v pid="$master" '$2 == pid {print $5}' "$work/processes")
worker_nice=$(awk -v pid="$worker" '$2 == pid {print $5}' "$work/processes")
((worker_nice == (master_nice + 10 > 19 ? 19 : master_nice + 10))) ||
  fail "the worker runs at nice $worker_nice, gunicorn at $master_nice: not 10 lower"
log "ok: the supervisor (the entrypoint's exec) runs gunicorn (nice $master_nice) and the job worker (nice $worker_nice), all uid $uid (not root)"

in_container "${healthcheck[@]}" || fail "the HEALTHCHECK command exited $?"
# Another user has no worker (where /proc is shared, as here, the check counts its own user's).
if buildah run --isolation chroot --user 10002:10002 --env "PORT=$port" "$ctr" -- "${healthcheck[@]}" 2>"$work/health.log"; then
  fail "the HEALTHCHECK passed without a job worker"
fi
grep -q "no job worker" "$work/health.log" || fail "the HEALTHCHECK failed for another reason: $(cat "$work/health.log")"
log "ok: the HEALTHCHECK command exits 0, and 1 when no job worker is alive"

# A CSV file sent over HTTP as a staff user is scored by the worker.
token=$(in_container python manage.py shell --verbosity 0 --command '
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
user = get_user_model().objects.create_user("container-test", is_staff=True)
print(Token.objects.create(user=user).key)' </dev/null | tail -1)
[ -n "$token" ] || fail "could not create a staff user"
csv_rows=3
body=$(printf 'text,keyword\nForest fire near La Ronge Sask. Canada,fire\nI love fruits,\nFlood warning: evacuate now,flood\n' |
  curl -s -w '\n%{http_code}' -H "Authorization: Token $token" -H 'Content-Type: text/csv' \
    --data-binary @- "$base/api/predictions/csv/")
[ "${body##*$'\n'}" = 202 ] || fail "POST /api/predictions/csv/ answered ${body##*$'\n'}: ${body%$'\n'*}"
job=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["id"])' "${body%$'\n'*}")
t0=$(now)
deadline=$((SECONDS + 120))
while :; do
  status=$(curl -s -H "Authorization: Token $token" "$base/api/jobs/$job/" |
    python3 -c 'import json, sys; job = json.load(sys.stdin); print(job["status"], (job["result"] or {}).get("rows"), job["error"] or "-")')
  case $status in
    succeeded*) break ;;
    failed*) fail "the CSV job failed: $status" ;;
  esac
  ((SECONDS < deadline)) || fail "the CSV job did not finish within 120 s: $status"
  sleep 0.2
done
[ "$status" = "succeeded $csv_rows -" ] || fail "the CSV job: $status, not $csv_rows rows"
answer_rows=$(curl -s -H "Authorization: Token $token" "$base/api/jobs/$job/download/" | tail -n +2 | wc -l)
[ "$answer_rows" = "$csv_rows" ] || fail "the CSV job's answer has $answer_rows rows, not $csv_rows"
log "ok: a CSV file sent over HTTP was scored by the worker ($csv_rows rows) in $(elapsed "$t0" "$(now)") s"
stored=$((1 + csv_rows))

# Load the model in every gunicorn worker (each /readyz asks its worker's model), then measure.
for _ in $(seq 20); do status_of "$base/readyz" >/dev/null; done
container_processes "$server_pid" >"$work/processes"
read -r processes rss_mb pss_mb < <(awk '{n++; rss += $7; pss += $8} END {printf "%d %.0f %.0f\n", n, rss/1024, pss/1024}' "$work/processes")
parts=""
for role in supervisor gunicorn worker; do
  read -r n role_pss < <(awk -v role="$role" '$1 == role {n++; pss += $8} END {printf "%d %.0f\n", n, pss/1024}' "$work/processes")
  parts+="${parts:+, }$role $role_pss MB ($n)"
done
log "memory: $processes processes, RSS sum $rss_mb MB, PSS sum $pss_mb MB (budget $MAX_PSS_MB MB PSS): $parts"
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
[ "$count" = "$stored" ] || fail "the history did not survive a restart: $count stored predictions, not $stored"
second_id=$(predict)
((second_id > first_id)) || fail "prediction ids restarted ($second_id after $first_id)"
log "ok: the history survived: $stored stored predictions before, id $second_id after $first_id"
[ -n "$(process_of "$server_pid" worker supervisor)" ] || fail "no job worker after the restart"
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
