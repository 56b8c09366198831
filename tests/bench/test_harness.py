"""The bench harness's bookkeeping, on real wrk output captured on this project's servers.

wrk_samples/: *-hook.txt end with predict.lua's JSON line; *-summary.txt are plain `wrk
--latency` runs. The seed-killed ones had the server killed mid-run (socket errors).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import report
from bench.cases import HttpResult
from bench.servers import GunicornConfig, _is_server
from bench.wrk import RESULT_PREFIX, WrkError, WrkResult, parse_wrk_output

SAMPLES = Path(__file__).resolve().parent / "wrk_samples"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def without_hook(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith(RESULT_PREFIX))


def test_hook_line_of_a_32_client_run_on_our_server() -> None:
    result = parse_wrk_output(sample("ours-32clients-hook.txt"))
    assert result == WrkResult(
        duration_s=3.08578,
        requests=338,
        ok_2xx=338,
        non_2xx=0,
        socket_errors=0,
        p50_us=281060.0,
        p99_us=404573.0,
        sent=371,
    )
    assert result.errors == 0
    assert result.in_flight == 33
    assert result.requests_per_s == pytest.approx(109.53, abs=0.01)  # wrk's own Requests/sec


def test_non_2xx_answers_are_errors() -> None:
    result = parse_wrk_output(sample("seed-400-hook.txt"))
    assert (result.requests, result.ok_2xx, result.non_2xx, result.socket_errors) == (
        811,
        0,
        811,
        0,
    )
    assert result.errors == 811


def test_socket_errors_are_errors() -> None:
    result = parse_wrk_output(sample("seed-killed-hook.txt"))
    assert result.ok_2xx == 482
    assert result.socket_errors == 7 + 60854
    assert result.errors == result.socket_errors


@pytest.mark.parametrize(
    ("name", "requests", "non_2xx", "socket_errors", "p50_us", "p99_us"),
    [
        ("seed-get-405-summary.txt", 968, 968, 0, 1410, 49540),
        ("seed-killed-summary.txt", 1461, 0, 4 + 41193, 2980, 16430),
    ],
)
def test_plain_wrk_summary(name, requests, non_2xx, socket_errors, p50_us, p99_us) -> None:
    result = parse_wrk_output(sample(name))
    assert result.requests == requests
    assert result.non_2xx == non_2xx
    assert result.ok_2xx == requests - non_2xx
    assert result.socket_errors == socket_errors
    assert result.p50_us == pytest.approx(p50_us)
    assert result.p99_us == pytest.approx(p99_us)
    assert result.sent is None
    assert result.in_flight is None


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*-hook.txt")))
def test_summary_and_hook_agree(name: str) -> None:
    text = sample(name)
    hook, summary = parse_wrk_output(text), parse_wrk_output(without_hook(text))
    assert summary.requests == hook.requests
    assert summary.non_2xx == hook.non_2xx
    assert summary.socket_errors == hook.socket_errors
    # The summary prints two decimals of the unit it chose.
    assert summary.duration_s == pytest.approx(hook.duration_s, abs=0.006)
    assert summary.p50_us == pytest.approx(hook.p50_us, rel=0.001, abs=6)
    assert summary.p99_us == pytest.approx(hook.p99_us, rel=0.001, abs=6)


def test_units_of_the_summary() -> None:
    text = (
        "  Latency Distribution\n     50%  812.00us\n     99%    1.50s\n"
        "  7 requests in 1.00m, 1.00KB read\n"
    )
    result = parse_wrk_output(text)
    assert (result.p50_us, result.p99_us, result.duration_s) == (812.0, 1.5e6, 60.0)


def test_summary_without_latency_distribution_is_an_error() -> None:
    text = "\n".join(
        line
        for line in without_hook(sample("seed-get-405-summary.txt")).splitlines()
        if "%" not in line or "Stdev" in line
    )
    with pytest.raises(WrkError, match="--latency"):
        parse_wrk_output(text)


def test_no_summary_is_an_error() -> None:
    with pytest.raises(WrkError, match="no wrk summary"):
        parse_wrk_output("unable to connect to 127.0.0.1:60885 Connection refused\n")


@pytest.mark.parametrize(
    ("stored", "ok"),
    [(338, True), (350, True), (370, True), (337, False), (371, False)],
)
def test_rows_stored_match_2xx_answers_up_to_abandoned_requests(stored: int, ok: bool) -> None:
    """338 answered and 33 more started when wrk stopped, on 32 connections: at most one per
    connection can still be stored, so 338 to 370 rows is right (that run stored 370)."""
    result = HttpResult(32, parse_wrk_output(sample("ours-32clients-hook.txt")), stored, 1.0)
    assert result.stored_ok is ok


def test_abandoned_requests_count_at_most_one_per_connection() -> None:
    # Killed server: wrk called request() 61,344 times for 482 answers, over 4 connections.
    killed = parse_wrk_output(sample("seed-killed-hook.txt"))
    assert HttpResult(4, killed, 486, 1.0).stored_ok is True
    assert HttpResult(4, killed, 487, 1.0).stored_ok is False


def test_nothing_to_check_when_nothing_is_stored() -> None:
    seed = parse_wrk_output(sample("seed-1client-hook.txt"))
    assert HttpResult(1, seed, None, 1.0).stored_ok is None


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("default", {}),
        ("sync:4", {"WEB_CONCURRENCY": "4", "GUNICORN_WORKER_CLASS": "sync"}),
        (
            "gthread:2:8",
            {"WEB_CONCURRENCY": "2", "GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "8"},
        ),
    ],
)
def test_worker_configs(spec: str, expected: dict) -> None:
    config = GunicornConfig.parse(spec)
    env = config.environ()
    assert {k: v for k, v in env.items() if k != "GUNICORN_CMD_ARGS"} == expected
    assert config.label() == spec
    assert GunicornConfig.from_env(env) == config
    if expected:
        # The same settings for gunicorn itself, in case gunicorn.conf.py does not read them.
        assert env["GUNICORN_CMD_ARGS"].startswith(f"--workers={expected['WEB_CONCURRENCY']}")


@pytest.mark.parametrize("spec", ["gthread", "sync:two", "gthread:2:8:1"])
def test_bad_worker_configs(spec: str) -> None:
    with pytest.raises(ValueError, match="worker config"):
        GunicornConfig.parse(spec)


def test_rounds_combine_into_medians_sums_and_checks() -> None:
    rounds = [
        {
            "ours": {"http32_rps": 300.0, "http_errors": 0, "http_stored_ok": True},
            "seed": {"http32_rps": 100.0, "http_errors": 2, "http_stored_ok": None},
        },
        {
            "ours": {"http32_rps": 100.0, "http_errors": 1, "http_stored_ok": True},
            "seed": {"http32_rps": 140.0, "http_errors": 0, "http_stored_ok": None},
        },
        {
            "ours": {"http32_rps": 250.0, "http_errors": 0, "http_stored_ok": False},
            "seed": {"http32_rps": 120.0, "http_errors": 0, "http_stored_ok": None},
        },
    ]
    summary = report.summarize(rounds)
    assert summary["ours"]["http32_rps"] == 250.0
    assert summary["seed"]["http32_rps"] == 120.0
    assert summary["ours"]["http_errors"] == 1
    assert summary["seed"]["http_errors"] == 2
    assert summary["ours"]["http_stored_ok"] is False
    assert summary["seed"]["http_stored_ok"] is None
    assert summary["ours"]["batch_per_s"] is None  # not measured: no value, no verdict


def test_throughput_target_needs_3x_no_errors_and_every_row_stored() -> None:
    seed = {"http32_rps": 100.0}
    name = report.TARGETS[0].name
    good = {"http32_rps": 300.0, "http_errors": 0, "http_stored_ok": True}
    assert report.target_verdicts({"ours": good, "seed": seed})["ours"][name] is True
    for change in ({"http32_rps": 299.0}, {"http_errors": 1}, {"http_stored_ok": False}):
        verdicts = report.target_verdicts({"ours": good | change, "seed": seed})
        assert verdicts["ours"][name] is False


def test_latency_target_against_in_process() -> None:
    name = report.TARGETS[2].name
    seed: dict = {}
    ours = {"http1_p50_ms": 1.2, "inproc_p50_ms": 0.5}
    assert report.target_verdicts({"ours": ours, "seed": seed})["ours"][name] is True
    ours["http1_p50_ms"] = 1.21
    assert report.target_verdicts({"ours": ours, "seed": seed})["ours"][name] is False


def test_the_postgresql_columns_latency_target_uses_the_models_in_process_figure() -> None:
    name = report.TARGETS[2].name
    summary = {
        "ours": {"http1_p50_ms": 1.0, "inproc_p50_ms": 0.5},
        "ours_pg": {"http1_p50_ms": 1.3},
        "seed": {},
    }
    verdicts = report.target_verdicts(summary)
    assert verdicts["ours"][name] is True
    assert verdicts["ours_pg"][name] is False
    summary["ours_pg"]["http1_p50_ms"] = 1.1
    assert report.target_verdicts(summary)["ours_pg"][name] is True


def test_a_process_that_names_gunicorn_among_its_arguments_is_not_a_serving_process(
    tmp_path: Path,
) -> None:
    """The supervisor starts gunicorn and names it in its own arguments: it is not counted (nor
    its memory) among the serving processes; gunicorn itself, run by Python, is."""
    script = tmp_path / "gunicorn"
    script.write_text("import time\ntime.sleep(30)\n")
    naming = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "gunicorn"])
    running = subprocess.Popen([sys.executable, str(script)])
    try:
        for process in (naming, running):
            # Right after the fork the child's command line can still read empty.
            deadline = time.monotonic() + 10
            while (
                not Path(f"/proc/{process.pid}/cmdline")
                .read_bytes()
                .startswith(sys.executable.encode())
            ):
                assert time.monotonic() < deadline
                time.sleep(0.01)
        assert not _is_server(naming.pid)
        assert _is_server(running.pid)
    finally:
        for process in (naming, running):
            process.kill()
            process.wait()
