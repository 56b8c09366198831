"""The access logger writes gunicorn's own line for every format, only faster."""

from __future__ import annotations

import base64
import runpy
from datetime import timedelta
from pathlib import Path

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger, SafeAtoms

from disaster_site.access_log import AccessLogger

ROOT = Path(__file__).resolve().parents[2]
OUR_FORMAT = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["access_log_format"]
FORMATS = [
    OUR_FORMAT,
    Config().access_log_format,  # gunicorn's default
    '%(p)s %(D)s %(L)s %(T)s %(B)s %(m)s %(U)s %(q)s %(H)s "%({User-Agent}i)s" %({missing}i)s',
    "%(h)s %({content-type}o)s %({wsgi.url_scheme}e)s",  # atoms only gunicorn's code makes
]


class Response:
    def __init__(self, status, sent) -> None:
        self.status, self.sent = status, sent
        self.headers = [("Content-Type", "application/json"), ("Vary", "Cookie")]


class Request:
    def __init__(self, headers) -> None:
        self.headers = headers


def environ(**extra: str) -> dict:
    return {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/api/predictions/?a=1",
        "PATH_INFO": "/api/predictions/",
        "QUERY_STRING": "a=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.7",
        "wsgi.url_scheme": "http",
        **extra,
    }


BASIC = "Basic " + base64.b64encode(b"ops:secret").decode()
CASES = [
    (Response("201 Created", 205), Request([("HOST", "x")]), environ()),
    (
        Response(404, None),
        Request([("X-FORWARDED-FOR", '203.0.113.9, "10.0.0.1"'), ("USER-AGENT", 'wrk "4"')]),
        environ(HTTP_USER_AGENT='wrk "4"', HTTP_REFERER="https://a/b", HTTP_AUTHORIZATION=BASIC),
    ),
    (
        Response("500 Internal Server Error", 0),
        Request([("X-Forwarded-For", "1.2.3.4"), ("X-FORWARDED-FOR", "5.6.7.8")]),
        environ(HTTP_AUTHORIZATION="Basic !!!"),
    ),
]


def line(logger: Logger, fmt: str, response, request, env) -> str:
    logger.cfg.set("access_log_format", fmt)
    logger.now = lambda: "[30/Nov/2026:09:00:00 +0000]"
    atoms = logger.atoms(response, request, env, timedelta(seconds=1, microseconds=2345))
    return fmt % SafeAtoms(atoms)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_the_same_line_as_gunicorns_logger(fmt, case):
    ours, theirs = AccessLogger(Config()), Logger(Config())
    assert line(ours, fmt, *CASES[case]) == line(theirs, fmt, *CASES[case])


def test_it_is_the_servers_logger():
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["logger_class"] == (
        "disaster_site.access_log.AccessLogger"
    )
