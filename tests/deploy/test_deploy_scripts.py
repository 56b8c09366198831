"""deploy/: the user data renders to a valid script carrying the repository's files, and the host
script drives docker and aws as the deployment guide says (both replaced by recording fakes)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MARK = "__DISASTER_SITE_END_OF_FILE__"
CONFIG = {
    "DOMAIN": "tweets.example.com",
    "ACME_EMAIL": "ops@example.com",
    "AWS_REGION": "eu-west-1",
    "IMAGE": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/disaster-site:1.0.0",
    "BACKUP_BUCKET": "example-backups",
}


def render(**overrides: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], **CONFIG, **overrides}
    return subprocess.run(
        [DEPLOY / "make-user-data.sh"], env=env, capture_output=True, text=True, timeout=30
    )


def embedded_files(user_data: str) -> dict[str, str]:
    pattern = rf"cat >(\S+) <<'{MARK}'\n(.*?)^{MARK}$"
    return {m[1]: m[2] for m in re.finditer(pattern, user_data, flags=re.S | re.M)}


def test_user_data_is_a_valid_script_embedding_the_deploy_files():
    result = render()
    assert result.returncode == 0, result.stderr
    user_data = result.stdout
    assert len(user_data.encode()) < 16 * 1024  # EC2 refuses larger user data
    assert subprocess.run(["bash", "-n"], input=user_data, text=True, timeout=30).returncode == 0
    files = embedded_files(user_data)
    assert files["/etc/disaster-site/Caddyfile"] == (DEPLOY / "Caddyfile").read_text()
    assert files["/usr/local/bin/disaster-site"] == (DEPLOY / "disaster-site.sh").read_text()
    config = files["/etc/disaster-site/config"]
    assert "DOMAIN=tweets.example.com\n" in config
    assert "SSM_PREFIX=/disaster-site\n" in config
    assert user_data.rstrip().endswith("/usr/local/bin/disaster-site start")
    assert "systemctl enable --now disaster-site-backup.timer" in user_data


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck is not installed")
def test_scripts_pass_shellcheck(tmp_path):
    rendered = tmp_path / "user-data.sh"
    rendered.write_text(render().stdout)
    scripts = [*DEPLOY.glob("*.sh"), rendered]
    result = subprocess.run(
        ["shellcheck", *map(str, scripts)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    "name, value",
    [
        ("DOMAIN", "tweets.example.com; rm -rf /"),
        ("ACME_EMAIL", "$(reboot)@example.com"),
        ("IMAGE", "image:tag`id`"),
    ],
)
def test_user_data_refuses_values_that_are_not_what_they_claim(name, value):
    result = render(**{name: value})
    assert result.returncode != 0
    assert name in result.stderr


# The host script, with docker and aws replaced by fakes that record their arguments.
FAKE_DOCKER = """\
#!/bin/bash
echo "docker $*" >>"$FAKE_LOG"
case "$*" in
  "login "*) cat >/dev/null ;;  # the password, on stdin
  "inspect --format {{.State.Running}} disaster-site") echo true ;;
  "inspect --format {{.Config.User}} disaster-site") echo "$(id -u):$(id -g)" ;;
  "volume inspect --format {{.Mountpoint}} disaster-data") echo "$FAKE_VOLUME" ;;
  "exec disaster-site python manage.py backup --output /data/backups/"*)
    mkdir -p "$FAKE_VOLUME/backups"; echo sqlite >"$FAKE_VOLUME/backups/${7##*/}" ;;
esac
exit 0
"""
FAKE_AWS = """\
#!/bin/bash
echo "aws $*" >>"$FAKE_LOG"
case "$1 $2" in
  "ssm get-parameters-by-path") printf '/disaster-site/SECRET_KEY\\ts3cret-from-ssm\\n' ;;
  "ecr get-login-password") echo password ;;
  "s3 ls") echo "2026-11-25 03:00:00 1234 db-20261125T030000Z.sqlite3.gz" ;;
  "s3 cp")
    source=${*: -2:1} target=${*: -1}
    if [[ $target == s3://* ]]; then cp "$source" "$FAKE_BUCKET/${source##*/}"
    else gzip --stdout <<<"restored" >"$target"; fi ;;
esac
exit 0
"""


@pytest.fixture
def host(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the host script runs as root")
    bin_dir, etc, volume, bucket = (tmp_path / d for d in ("bin", "etc", "volume", "bucket"))
    for directory in (bin_dir, etc, volume / "models", bucket):
        directory.mkdir(parents=True)
    for name, text in (("docker", FAKE_DOCKER), ("aws", FAKE_AWS)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    config = {**CONFIG, "SSM_PREFIX": "/disaster-site"}
    (etc / "config").write_text("".join(f"{k}={v}\n" for k, v in config.items()))
    log = tmp_path / "calls.log"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "DISASTER_SITE_ETC": str(etc),
        "FAKE_LOG": str(log),
        "FAKE_VOLUME": str(volume),
        "FAKE_BUCKET": str(bucket),
    }

    def run(*args: str) -> list[str]:
        log.write_text("")
        result = subprocess.run(
            [DEPLOY / "disaster-site.sh", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return log.read_text().splitlines()

    run.etc, run.volume, run.bucket = etc, volume, bucket
    return run


def test_start_runs_the_app_unpublished_and_read_only_behind_caddy(host):
    calls = host("start")
    app = next(c for c in calls if c.startswith("docker run") and "--name disaster-site" in c)
    caddy = next(c for c in calls if c.startswith("docker run") and "--name caddy" in c)
    assert "--publish" not in app
    for flag in ("--read-only", "--cap-drop ALL", "--restart unless-stopped", "disaster-data:/"):
        assert flag in app
    assert re.findall(r"--publish (\S+)", caddy) == ["80:80", "443:443"]
    env_file = host.etc / "app.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert env_file.read_text().splitlines() == [
        "ALLOWED_HOSTS=tweets.example.com",
        "BEHIND_TLS_PROXY=1",
        "NUM_PROXIES=1",
        "SECRET_KEY=s3cret-from-ssm",
    ]
    assert not any("s3cret" in c for c in calls)  # never on a command line
    assert calls.index(next(c for c in calls if c.startswith("aws ecr"))) < calls.index(
        next(c for c in calls if c.startswith("docker pull"))
    )


def test_backup_uses_the_online_backup_command_and_uploads_to_s3(host):
    calls = host("backup")
    assert any(
        re.fullmatch(r"docker exec disaster-site python manage.py backup --output \S+", c)
        for c in calls
    )
    uploaded = list(host.bucket.iterdir())
    assert len(uploaded) == 1 and uploaded[0].name.endswith(".sqlite3.gz")
    assert not list((host.volume / "backups").iterdir())  # the copy in the volume is removed
    assert any(c.startswith("aws s3 sync") and "/models" in c for c in calls)


def test_deploy_pulls_first_backs_up_then_records_the_previous_image(host):
    new = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/disaster-site:1.1.0"
    calls = host("deploy", new)
    pull = calls.index(f"docker pull --quiet {new}")
    backup = next(i for i, c in enumerate(calls) if "manage.py backup" in c)
    stop = next(i for i, c in enumerate(calls) if c.startswith("docker stop"))
    assert pull < backup < stop
    assert (host.etc / "image.current").read_text().strip() == new
    assert (host.etc / "image.previous").read_text().strip() == CONFIG["IMAGE"]

    calls = host("rollback")
    assert (host.etc / "image.current").read_text().strip() == CONFIG["IMAGE"]
    assert (host.etc / "image.previous").read_text().strip() == new


def test_restore_sets_the_live_database_and_its_wal_aside(host):
    for name in ("db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm"):
        (host.volume / name).write_text("old")
    calls = host("restore")
    assert "aws s3 cp --only-show-errors s3://example-backups/db/db-20261125T030000Z" in "\n".join(
        calls
    )
    assert (host.volume / "db.sqlite3").read_text() == "restored\n"
    assert not (host.volume / "db.sqlite3-wal").exists()
    (saved,) = host.volume.glob("before-restore-*")
    assert sorted(p.name for p in saved.iterdir()) == [
        "db.sqlite3",
        "db.sqlite3-shm",
        "db.sqlite3-wal",
    ]
    assert calls.index("docker stop --time 30 disaster-site") < calls.index(
        "docker start disaster-site"
    )


def test_without_a_command_it_prints_its_usage():
    result = subprocess.run(
        [DEPLOY / "disaster-site.sh"],
        env={**os.environ, "DISASTER_SITE_ETC": "/nonexistent"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "disaster-site deploy IMAGE" in result.stderr
