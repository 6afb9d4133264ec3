"""Running the application under uvicorn, hardened at the connection level.

- httptools parses HTTP (llhttp, strict): a request with both Transfer-Encoding and Content-Length
  is refused with 400 and its connection closed, so nothing hides a second request in its body.
- A connection must deliver a request's headers within `header_timeout` of its start (or of the
  request's first byte); one that dawdles gets 408 and is closed. (uvicorn closes idle keep-alive
  connections by itself, but waits forever for half-sent headers.)
- At most `max_connections` connections are served at once; past that uvicorn answers 503.
- On SIGTERM, requests still running after `shutdown_timeout` seconds are cut.
- The file-descriptor soft limit is raised to the hard limit, so connections, not descriptors,
  are what runs out.
"""

from __future__ import annotations

import asyncio
import resource
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .config import Settings, get_settings

REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline for each request's headers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = get_settings().header_timeout
        self.header_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self.header_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _too_slow(self) -> None:
        self.header_deadline = None
        if not self.transport.is_closing():
            self.transport.write(REQUEST_TIMEOUT)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def raise_descriptor_limit() -> int:
    """The soft limit on open files raised as far as the hard limit allows; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError):
            pass
    return soft


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn runs the service (bench/bench_service.py runs its no-op the same way)."""
    return {"http": DeadlineProtocol, "loop": "uvloop", "limit_concurrency": settings.max_connections,
            "timeout_graceful_shutdown": max(1, round(settings.shutdown_timeout)), "timeout_keep_alive": 5}


def run(settings: Settings, *, host: str, port: int, workers: int, log_level: str) -> None:
    raise_descriptor_limit()
    uvicorn.run("app.main:create_app", factory=True, host=host, port=port, workers=workers, log_level=log_level,
                **uvicorn_options(settings))
