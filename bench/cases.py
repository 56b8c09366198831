"""The measured cases against a running server: wrk runs (one client, many clients) and the
batch endpoint, each with the stored-row check when the server stores predictions."""

from __future__ import annotations

import http.client
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote_plus, urlencode

from bench.databases import BenchDatabase
from bench.servers import Server
from bench.wrk import WrkResult, run_wrk
from ml.data import Dataset

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Endpoint:
    """Where and how a server takes one prediction."""

    path: str
    content_type: str
    bodies: Path
    stores: bool


def write_bodies(data: Dataset, directory: Path, *, rows: int = 2000, seed: int = 7) -> dict:
    """Request bodies for predict.lua from real tweets: {"json": path, "form": path}.

    Each line is "before<TAB>after"; the Lua script puts a unique marker between, at the end of
    the tweet's text (after a space, encoded as the format needs).
    """
    directory.mkdir(parents=True, exist_ok=True)
    picked = random.Random(seed).sample(range(len(data)), min(rows, len(data)))
    json_lines, form_lines = [], []
    for i in picked:
        text, keyword, location = data.text[i], data.keyword[i], data.location[i]
        head = json.dumps({"keyword": keyword, "location": location, "text": text + " "})
        json_lines.append(f"{head[:-2]}\t{head[-2:]}")
        fields = urlencode({"location": location, "keyword": keyword})
        form_lines.append(f"{fields}&message={quote_plus(text + ' ')}\t")
    paths = {"json": directory / "bodies-json.txt", "form": directory / "bodies-form.txt"}
    paths["json"].write_text("\n".join(json_lines) + "\n", encoding="utf-8")
    paths["form"].write_text("\n".join(form_lines) + "\n", encoding="utf-8")
    return paths


def ours_endpoint(bodies: dict) -> Endpoint:
    return Endpoint("/api/predictions/", JSON, bodies["json"], stores=True)


def seed_endpoint(bodies: dict) -> Endpoint:
    return Endpoint("/predict", FORM, bodies["form"], stores=False)


@dataclass(frozen=True)
class HttpResult:
    """One wrk run, with the rows it added when the server stores predictions."""

    connections: int
    wrk: WrkResult
    stored: int | None
    server_cpu_s: float

    @property
    def cpu_ms_per_request(self) -> float | None:
        """Server CPU time per answered request: what a request costs, whatever else runs."""
        return self.server_cpu_s * 1e3 / self.wrk.requests if self.wrk.requests else None

    @property
    def stored_ok(self) -> bool | None:
        """Every 2xx answer stored, and nothing else bar the requests wrk abandoned when it
        stopped: at most one per connection (`sent` also counts retries after socket errors)."""
        if self.stored is None:
            return None
        in_flight = min(self.wrk.in_flight or 0, self.connections)
        return self.wrk.ok_2xx <= self.stored <= self.wrk.ok_2xx + in_flight

    def as_dict(self) -> dict:
        wrk = self.wrk
        return {
            "connections": self.connections,
            "requests_per_s": wrk.requests_per_s,
            "p50_ms": wrk.p50_us / 1e3,
            "p99_ms": wrk.p99_us / 1e3,
            "errors": wrk.errors,
            "cpu_ms_per_request": self.cpu_ms_per_request,
            "stored": self.stored,
            "stored_ok": self.stored_ok,
            "wrk": asdict(wrk) | {"in_flight": wrk.in_flight},
        }


def http_case(
    server: Server,
    endpoint: Endpoint,
    *,
    connections: int,
    duration_s: float,
    database: BenchDatabase | None,
    output: Path | None = None,
) -> HttpResult:
    """wrk with `connections` clients for duration_s; wrk -t1 -c1 for one client."""
    before = database.settled_count() if database else None
    cpu_before = server.cpu_seconds()
    result, text = run_wrk(
        server.base_url + endpoint.path,
        bodies=endpoint.bodies,
        content_type=endpoint.content_type,
        connections=connections,
        duration_s=duration_s,
    )
    stored = database.settled_count() - before if database else None
    cpu_s = server.cpu_seconds() - cpu_before
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
    return HttpResult(connections, result, stored, cpu_s)


def batch_case(
    server: Server,
    data: Dataset,
    database: BenchDatabase,
    *,
    requests: int,
    size: int = 1000,
    tag: str = "",
) -> dict:
    """`requests` sequential POSTs of `size` real tweets to the batch endpoint.

    predictions/s = items answered / time spent in the calls (client side, request written to
    answer read); the JSON is encoded before the clock starts.
    """
    before = database.settled_count()
    answered = errors = 0
    seconds = []
    n = len(data)
    for r in range(requests):
        rows = [(r * size + i) % n for i in range(size)]
        items = [
            {
                "text": f"{data.text[j]} b{tag}x{r}x{i}",
                "keyword": data.keyword[j],
                "location": data.location[j],
            }
            for i, j in enumerate(rows)
        ]
        body = json.dumps({"items": items}).encode()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        try:
            started = time.perf_counter()
            connection.request(
                "POST", "/api/predictions/batch/", body=body, headers={"Content-Type": JSON}
            )
            response = connection.getresponse()
            response.read()
            seconds.append(time.perf_counter() - started)
        except OSError:
            errors += 1
            continue
        finally:
            connection.close()
        if 200 <= response.status < 300:
            answered += size
        else:
            errors += 1
    stored = database.settled_count() - before
    elapsed = sum(seconds)
    return {
        "requests": requests,
        "items": size,
        "per_s": answered / elapsed if elapsed else 0.0,
        "request_s": seconds,
        "errors": errors,
        "stored": stored,
        "stored_ok": stored == answered and errors == 0,
    }


def warm_up(server: Server, endpoint: Endpoint, seconds: float = 2) -> None:
    """A short wrk run so every worker has loaded the model before anything is timed."""
    if seconds > 0:
        run_wrk(
            server.base_url + endpoint.path,
            bodies=endpoint.bodies,
            content_type=endpoint.content_type,
            connections=8,
            duration_s=seconds,
        )
