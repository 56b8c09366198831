"""Debian's Chromium driven by Playwright (no browser download), axe-core checks, and the data the
browser tests and `make screenshots` need on a live server (tests/live_server.py)."""

from __future__ import annotations

import os
import re
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.live_server import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

HERE = Path(__file__).resolve().parent
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The machine has no network but loopback: without these Chromium keeps trying to reach
# Google's services (updates, sync, safe browsing) and logs every refusal.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}

PASSWORD = "e2e-not-a-secret-7Qv"  # throwaway accounts of a throwaway server
USERS = {
    "admin": "superuser",
    "reviewer": "staff, in the Reviewers group",
    "plain": "a signed-up user, not staff",
}

# From data/sample_tweets.csv, which the live server's first model is trained on.
DISASTER_TWEET = "Wildfire near Lytton destroyed most of the village, residents fled with nothing"
SAFE_TWEET = "This new mixtape is fire, been playing it all day"


def chromium_launch(playwright: Playwright) -> Browser:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} not found: `make test-e2e` installs Debian's chromium")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def axe_violations(page: Page, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list:
    """axe-core's violations of the given impacts on the page as it is now."""
    if not AXE_JS.is_file():
        raise RuntimeError(f"{AXE_JS} missing: `make test-e2e` installs it with npm")
    # Evaluated through the DevTools protocol, not added as a <script>: the site's
    # Content-Security-Policy rightly refuses inline scripts, and the policy stays on for the test.
    page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v["impact"] in impacts]


def axe_report(violations: list) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['impact']}: {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(
                f"    {' '.join(node['target'])}: {node['failureSummary'].splitlines()[-1]}"
            )
    return "\n".join(lines)


def manage_ok(server: LiveServer, *args: str) -> str:
    """A management command against the server's database; its stdout, or an error."""
    result = server.manage(*args)
    if result.returncode != 0:
        command = shlex.join(args)
        raise RuntimeError(f"manage.py {command} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def users_create(server: LiveServer) -> None:
    """The accounts of USERS, all with PASSWORD."""
    manage_ok(
        server,
        "shell",
        "-c",
        "from django.contrib.auth.models import Group, User\n"
        f"User.objects.create_superuser('admin', password={PASSWORD!r})\n"
        f"reviewer = User.objects.create_user('reviewer', password={PASSWORD!r}, is_staff=True)\n"
        "reviewer.groups.add(Group.objects.get(name='Reviewers'))\n"
        f"User.objects.create_user('plain', password={PASSWORD!r})\n",
    )


def predictions_create(server: LiveServer, texts: list[str]) -> list[int]:
    """Classify and store the texts through the batch API; their ids, in order."""
    status, body = server.request(
        "POST", "/api/predictions/batch/", {"items": [{"text": text} for text in texts]}
    )
    if status != 201:
        raise RuntimeError(f"batch API answered {status}: {body}")
    return [row["id"] for row in body["results"]]


def active_version_wait(server: LiveServer, name: str, timeout: float = 15) -> None:
    """Wait until every worker serves with model version `name`."""
    deadline = time.monotonic() + timeout
    seen: Any = None
    while time.monotonic() < deadline:
        seen = server.request("GET", "/readyz")[1]
        if isinstance(seen, dict) and seen.get("model_version") == name:
            # One worker has it, so it is stored: every worker looks again on its next request
            # once ACTIVE_MODEL_CHECK_SECONDS (1 s on this server) have passed.
            time.sleep(1.2)
            return
        time.sleep(0.2)
    raise TimeoutError(f"the server still answers {seen} after {timeout}s, not {name}")


def login(page: Page, username: str, password: str = PASSWORD) -> None:
    """Sign in through the admin's login form."""
    page.goto("/admin/login/?next=/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def version_row(page: Page, name: str):
    """The model versions list's row of version `name`."""
    return page.locator("#result_list tbody tr").filter(
        has=page.get_by_role("link", name=name, exact=True)
    )


def version_stored(server: LiveServer) -> str:
    """Train a version on the sample data without activating it; its name."""
    out = manage_ok(server, "retrain", "--no-activate", "--data", "data/sample_tweets.csv")
    return re.search(r"^(\S+) stored \(not active\)", out, re.MULTILINE).group(1)
