"""One structured line per request, its id in the answer, and its count and time in the metrics.

    {"method": "POST", "route": "/predict", "status": 200, "ms": 0.41, "request_id": "5f0c..."}

The id is the client's X-Request-ID when it sends a sensible one (a proxy or a load balancer
usually does), else a fresh random one; the answer echoes it in X-Request-ID, so an operator
can find a visitor's request in the logs. The route is the endpoint's template, never the raw
path of a stray request, and nothing of the body (never the image) is logged. The lines go
to standard output as JSON, one per request; uvicorn's own access log is switched off
(app/server.py), so that a request costs one line, not two.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import Metrics

log = logging.getLogger("cnn.requests")
HEADER = b"x-request-id"
SENSIBLE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


def log_to_stdout() -> None:
    """The request lines as they are (JSON), on standard output, once per process."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def request_id(scope: Scope) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == HEADER and SENSIBLE_ID.fullmatch(value):
            return value
    return secrets.token_hex(8).encode()


class RequestLog:
    def __init__(self, app: ASGIApp, metrics: Metrics | None = None, paths: frozenset[str] = frozenset()) -> None:
        self.app, self.metrics = app, metrics
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

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or self.route_of(scope["path"])
            line = {
                "method": scope["method"],
                "route": route,
                "status": status,
                "ms": round(1000 * seconds, 2),
                "request_id": rid.decode(),
            }
            log.info(json.dumps(line, separators=(", ", ": ")))
            if self.metrics is not None:
                self.metrics.request(route, status, seconds)

    def route_of(self, path: str) -> str:
        """The label of a request no API route matched: its path if the app has it, else the page's."""
        return path if path == "/" or path in self.paths else "(static)"
