"""gunicorn's logger, with the access log's fields worked out only for what its format uses.

gunicorn builds every atom it knows for every request (each request header, each response
header and each WSGI environ entry, all escaped) before it formats the line: ~65 µs of the
~120 µs an access-log line costs on this project's 2-core machines, where a whole prediction
request takes ~2 ms of CPU (docs/performance.md). This logger gives the same line for the
formats that use only the atoms below, and hands any other format to gunicorn's own code.
"""

from __future__ import annotations

import os
import re
from functools import cache

from gunicorn.glogging import Logger

_ATOM = re.compile(r"%\(([^)]*)\)s")
_PLAIN = frozenset("hlutrsbBfaTDMLpmUqH")


@cache
def _format_atoms(access_log_format: str) -> frozenset[str]:
    return frozenset(_ATOM.findall(access_log_format))


class AccessLogger(Logger):
    """gunicorn.glogging.Logger, making only the atoms the access-log format names."""

    def atoms(self, resp, req, environ, request_time) -> dict:
        names = _format_atoms(self.cfg.access_log_format)
        headers = {name for name in names if name not in _PLAIN}
        if any(not (n.startswith("{") and n.lower().endswith("}i")) for n in headers):
            return super().atoms(resp, req, environ, request_time)
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        seconds, micros = request_time.seconds, request_time.microseconds
        atoms = {
            "h": environ.get("REMOTE_ADDR", "-"),
            "l": "-",
            "u": (self._get_user(environ) or "-") if "u" in names else "-",
            "t": self.now() if "t" in names else "-",
            "r": f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}",
            "s": status,
            "m": environ.get("REQUEST_METHOD"),
            "U": environ.get("PATH_INFO"),
            "q": environ.get("QUERY_STRING"),
            "H": environ.get("SERVER_PROTOCOL"),
            "b": str(sent) if sent is not None else "-",
            "B": sent,
            "f": environ.get("HTTP_REFERER", "-"),
            "a": environ.get("HTTP_USER_AGENT", "-"),
            "T": seconds,
            "D": seconds * 1_000_000 + micros,
            "M": seconds * 1000 + int(micros / 1000),
            "L": f"{seconds}.{micros:06d}",
            "p": f"<{os.getpid()}>",
        }
        if headers:
            wanted = {name.lower() for name in headers}
            request_headers = req.headers if hasattr(req, "headers") else req
            if hasattr(request_headers, "items"):
                request_headers = request_headers.items()
            for key, value in request_headers:
                atom = f"{{{key.lower()}}}i"
                if atom in wanted:
                    atoms[atom] = value
        return atoms
