"""Load for reliability tests: client threads posting unique tweets to a live server (loopback
only, bounded in time and count), what each got back, and what the server's database holds."""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
import time
import uuid
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from tests.live_server import LiveServer

TWEETS = [
    "Forest fire near La Ronge Sask. Canada",
    "Residents asked to shelter in place as the flood water rises",
    "What a lovely sunny day in the park",
    "13,000 people receive #wildfires evacuation orders in California",
    "I love fruits and long walks on the beach",
]
MAX_REQUESTS_PER_CLIENT = 100_000  # a bound besides the deadline


@dataclass(frozen=True)
class Outcome:
    """One request: what was sent and what came back (status None: no HTTP answer at all)."""

    text: str
    started: float
    finished: float
    status: int | None
    body: dict | None = None
    error: str | None = None


@dataclass
class Load:
    """`clients` threads posting until `stop()` or `seconds` have passed."""

    server: LiveServer
    clients: int
    seconds: float
    label: str
    path: str = "/api/predictions/"
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.prefix = f"{self.label}-{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True)
            for n in range(self.clients)
        ]

    def start(self) -> Load:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> Load:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        self.elapsed = time.monotonic() - self.started
        return self

    def run(self) -> Load:
        """Start, wait out the time, stop."""
        self.start()
        self._stop.wait(self.seconds)
        return self.stop()

    def _client(self, number: int) -> None:
        deadline = time.monotonic() + self.seconds
        for i in range(MAX_REQUESTS_PER_CLIENT):
            if self._stop.is_set() or time.monotonic() >= deadline:
                return
            text = f"{TWEETS[i % len(TWEETS)]} [{self.prefix} c{number} #{i}]"
            self.outcomes.append(post(self.server, self.path, {"text": text}, text))

    # --- what came back ------------------------------------------------------------------------

    def statuses(self) -> Counter:
        return Counter(o.status for o in self.outcomes)

    def acknowledged(self) -> dict[int, Outcome]:
        """The 2xx answers, by the id they gave."""
        return {o.body["id"]: o for o in self.outcomes if o.status is not None and o.status < 300}

    def server_errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is not None and o.status >= 500]

    def connection_errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is None]

    def figures(self, stored: dict[int, StoredRow] | None = None) -> dict[str, object]:
        """Requests, answers by status, errors and (given the stored rows) rows lost."""
        figures: dict[str, object] = {
            "clients": self.clients,
            "seconds": round(self.elapsed, 1),
            "requests": len(self.outcomes),
            "per_second": round(len(self.outcomes) / self.elapsed) if self.elapsed else 0,
            "statuses": dict(sorted((str(k), v) for k, v in self.statuses().items())),
            "connection_errors": len(self.connection_errors()),
        }
        if stored is not None:
            figures["rows_lost"] = len(set(self.acknowledged()) - set(stored))
        return figures


def post(server: LiveServer, path: str, body: dict, text: str = "") -> Outcome:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request(
            "POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(text, started, time.monotonic(), None, error=repr(exc))
    finally:
        connection.close()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = {"raw": raw[:200].decode("utf-8", "replace")}
    return Outcome(text, started, time.monotonic(), response.status, parsed)


# --- the server's database ----------------------------------------------------------------------


@dataclass(frozen=True)
class StoredRow:
    text: str
    model_version: str


def database_path(server: LiveServer) -> Path:
    return Path(server.env["DATA_DIR"]) / "db.sqlite3"


def stored_rows(database: Path, prefix: str) -> dict[int, StoredRow]:
    """Stored predictions whose text carries `prefix` (one load's), by id."""
    with closing(sqlite3.connect(database, timeout=30)) as connection:
        rows = connection.execute(
            "SELECT p.id, p.text, v.name FROM predictor_prediction p "
            "JOIN predictor_modelversion v ON v.id = p.model_version_id WHERE p.text LIKE ?",
            (f"%[{prefix} %",),
        ).fetchall()
    return {pk: StoredRow(text, version) for pk, text, version in rows}


def integrity(database: Path) -> str:
    with closing(sqlite3.connect(database, timeout=30)) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


def assert_acknowledged_are_stored(load: Load, stored: dict[int, StoredRow]) -> None:
    """Every acknowledged prediction is stored, under the id it was answered with, with the
    text that was sent."""
    acknowledged = load.acknowledged()
    answered_2xx = sum(1 for o in load.outcomes if o.status is not None and o.status < 300)
    assert len(acknowledged) == answered_2xx, "two answers gave the same id"
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} acknowledged predictions are not stored"
    for pk, outcome in acknowledged.items():
        assert stored[pk].text == outcome.text


def assert_stored_exactly_once(load: Load, stored: dict[int, StoredRow]) -> None:
    """As above, and nothing else is stored: no row for a request that was not acknowledged, no
    row twice (each request's text is unique)."""
    assert_acknowledged_are_stored(load, stored)
    sent = sorted(o.text for o in load.acknowledged().values())
    assert sorted(row.text for row in stored.values()) == sent


class Browser:
    """Form posts as a browser makes them: cookies kept, the CSRF token read from the page."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, fields: dict[str, str] | None = None):
        from urllib.parse import urlencode

        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if fields is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urlencode(fields)
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            html = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        for header in response.msg.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, html, response

    def submit(self, page: str, fields: dict[str, str], action: str | None = None):
        """GET `page`, then POST `fields` and its CSRF token to `action` (default: the page)."""
        import re

        _, html, _ = self.request("GET", page)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        return self.request("POST", action or page, {**fields, "csrfmiddlewaretoken": token})
