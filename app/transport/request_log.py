"""One structured line per request, its id in the answer, and its count and time in the metrics.

    {"method": "POST", "route": "/predict", "status": 200, "ms": 0.41, "request_id": "5f0c..."}

The id is the client's X-Request-ID when it sends a sensible one (a proxy or a load balancer
usually does), else a fresh random one; the answer echoes it in X-Request-ID, so an operator
can find a visitor's request in the logs. An answer is timed to its last byte's leaving, not to
its hand-over to the connection (app/transport/backlog.py's DRAINED); one whose connection was
cut before that (the client read nothing within CNN_WRITE_TIMEOUT) says `"cut": true`.
The route is the endpoint's template, never the raw
path of a stray request, and nothing of the body (never the image) is logged. The lines go
to standard output as JSON, one per request; uvicorn's own access log is switched off
(app/transport/server.py), so that a request costs one line, not two.

Each line is one write(2) to standard output, not a trip through the logging module: that cost
a share of /predict's CPU worth saving (BENCHMARKS.md), for a record, a
lock, a formatter and a flush of a line that needs none of them. A write of less than a pipe's
buffer is atomic, so the lines of several processes never interleave.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .backlog import DRAINED
from .metrics import Metrics

HEADER = b"x-request-id"
SENSIBLE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


def to_stdout(line: bytes) -> None:
    """One line on standard output (file descriptor 1) in one write; a closed or broken output loses
    the line, not the request."""
    with contextlib.suppress(OSError):
        os.write(1, line)


def request_id(scope: Scope) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == HEADER and SENSIBLE_ID.fullmatch(value):
            return value
    # Random, not secret: it names a line of the log and grants nothing. Python's generator, seeded
    # from the system's at start and again in every forked child, costs no system call a request,
    # where secrets.token_hex's getrandom(2) showed in /predict's profile (issue 34).
    return b"%016x" % random.getrandbits(64)


class RequestLog:
    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics | None = None,
        paths: frozenset[str] = frozenset(),
        write: Callable[[bytes], None] = to_stdout,
    ) -> None:
        self.app, self.metrics, self.write = app, metrics, write
        self.paths = paths  # the app's own fixed paths: a plain route (/openapi.json, /docs) is named by its path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = request_id(scope)
        started = time.perf_counter()
        status = 0  # no answer started: the client went away, or the server stopped

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (HEADER, rid)]}
            await send(message)

        cut = False  # the answer was handed over, but the connection closed before its last byte left
        try:
            await self.app(scope, receive, send_with_id)
            drained = scope.get("extensions", {}).get(DRAINED)  # under the service's uvicorn protocol
            if drained is not None and status:
                cut = not await drained()
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or self.route_of(scope["path"])
            method = scope["method"] if scope["method"].isalpha() else "OTHER"
            # JSON by construction: the method is letters, the route one of the app's own templates,
            # the id letters, digits and ._:- (SENSIBLE_ID), the rest numbers.
            self.write(
                b'{"method": "%s", "route": "%s", "status": %d, "ms": %.2f, "request_id": "%s"%s}\n'
                % (method.encode(), route.encode(), status, 1000 * seconds, rid, b', "cut": true' if cut else b"")
            )
            if self.metrics is not None:
                self.metrics.request(route, status, seconds)

    def route_of(self, path: str) -> str:
        """The label of a request no API route matched: its path if the app has it, else the page's."""
        return path if path == "/" or path in self.paths else "(static)"
