"""Soak: SOAK_CLIENTS (32) clients post for SOAK_SECONDS (60; 20 in CI) to `make serve`. Every
request is answered 201, none with a 5xx or a dropped connection, and the database holds exactly
the acknowledged predictions: each once, with the text that was sent."""

from __future__ import annotations

import pytest

from tests.reliability.conftest import SOAK_CLIENTS, SOAK_SECONDS, report
from tests.reliability.load import (
    Load,
    assert_stored_exactly_once,
    database_path,
    integrity,
    stored_rows,
)

pytestmark = pytest.mark.reliability


def test_soak_answers_everything_and_stores_each_answer_exactly_once(load_server):
    load = Load(load_server, clients=SOAK_CLIENTS, seconds=SOAK_SECONDS, label="soak").run()
    stored = stored_rows(database_path(load_server), load.prefix)
    report("soak", load.figures(stored))

    assert load.outcomes
    assert load.server_errors() == []
    assert load.connection_errors() == []
    assert set(load.statuses()) == {201}
    assert_stored_exactly_once(load, stored)
    assert integrity(database_path(load_server)) == "ok"
