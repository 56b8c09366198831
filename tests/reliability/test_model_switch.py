"""Model switch under load: while clients post, another process activates v2, then v1, then v2
(`manage.py activate`). No request fails, every answer names a version that existed, the stored
row names the version its answer named, and after the switch settles every answer uses it."""

from __future__ import annotations

import time

import pytest

from tests.live_server import SAMPLE_DATA
from tests.reliability.conftest import report
from tests.reliability.load import Load, assert_stored_exactly_once, database_path, stored_rows

pytestmark = pytest.mark.reliability

CHECK_SECONDS = 1  # ACTIVE_MODEL_CHECK_SECONDS of the servers (tests/reliability/conftest.py)


def activate(server, name: str) -> float:
    """Activate `name` in a separate process; when it committed (monotonic clock)."""
    result = server.manage("activate", name)
    assert result.returncode == 0, result.stderr
    return time.monotonic()


def test_switching_the_model_under_load_loses_nothing_and_mixes_nothing(load_server):
    trained = load_server.manage("retrain", "--no-activate", "--data", str(SAMPLE_DATA))
    assert trained.returncode == 0, trained.stderr
    new = trained.stdout.split()[0]  # "v2 stored (not active): ..."
    old = load_server.request("GET", "/readyz")[1]["model_version"]
    assert new != old

    load = Load(load_server, clients=16, seconds=60, label="switch").start()
    time.sleep(2)
    switches = [activate(load_server, new)]
    time.sleep(3)
    switches.append(activate(load_server, old))
    time.sleep(3)
    settled = activate(load_server, new) + CHECK_SECONDS
    time.sleep(CHECK_SECONDS + 3)
    load.stop()
    stored = stored_rows(database_path(load_server), load.prefix)
    answered = {pk: o.body["model_version"] for pk, o in load.acknowledged().items()}
    report("model switch", {**load.figures(stored), "switches": len(switches) + 1})

    assert load.server_errors() == [] and load.connection_errors() == []
    assert set(load.statuses()) == {201}
    assert_stored_exactly_once(load, stored)
    assert set(answered.values()) == {old, new}  # both served, nothing else
    assert all(stored[pk].model_version == name for pk, name in answered.items())
    # A worker looks for a new active version at most CHECK_SECONDS apart: requests that started
    # after that, once the last activation committed, all used it.
    late = [o for o in load.acknowledged().values() if o.started > settled]
    assert late and {o.body["model_version"] for o in late} == {new}
