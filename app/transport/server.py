"""Running the application under uvicorn, hardened at the connection level.

- httptools parses HTTP (llhttp, strict): a request with both Transfer-Encoding and Content-Length
  is refused with 400 and its connection closed, so nothing hides a second request in its body.
- A connection must deliver a request's headers within `header_timeout` of its start (or of the
  request's first byte), and its body within `body_timeout` of the headers; one that dawdles gets
  408 and is closed. (uvicorn closes idle keep-alive connections by itself, but waits forever for
  half-sent headers and bodies.)
- At most `max_connections` connections are served at once; past that uvicorn answers 503.
- On SIGTERM, requests still running after `shutdown_timeout` seconds are cut.
- Answers carry no `server` header (uvicorn's would name itself).
- X-Forwarded-For and X-Forwarded-Proto are believed only from CNN_TRUSTED_PROXIES (uvicorn's
  default believes 127.0.0.1, where sidecars connect from).
- The file-descriptor soft limit is raised to the hard limit, so connections, not descriptors,
  are what runs out.
"""

from __future__ import annotations

import asyncio
import json
import resource
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import Settings, get_settings


def request_timeout(what: str, seconds: float) -> bytes:
    detail = json.dumps({"detail": f"the request {what} did not arrive within {seconds:g} s"}).encode()
    return (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(detail), detail)
    )


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with deadlines for each request's headers and body."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.header_timeout, self.body_timeout = settings.header_timeout, settings.body_timeout
        self.deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(seconds, self._too_slow, what, seconds)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _too_slow(self, what: str, seconds: float) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:  # else the answer is on its way: just close
            self.transport.write(request_timeout(what, seconds))
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, "headers")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.header_timeout, "headers")

    def on_headers_complete(self) -> None:
        self._arm(self.body_timeout, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

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
    return {
        "http": DeadlineProtocol,
        "loop": "uvloop",
        "limit_concurrency": settings.max_connections,
        "timeout_graceful_shutdown": max(1, round(settings.shutdown_timeout)),
        "timeout_keep_alive": 5,
        "access_log": False,  # app/transport/request_log.py writes one structured line per request instead
        "server_header": False,  # no "server: uvicorn": what runs here is nobody else's business
        # By default uvicorn believes X-Forwarded-For and -Proto from 127.0.0.1, a sidecar's address: only
        # the proxies named in CNN_TRUSTED_PROXIES are believed (none by default). app/drawings/guard.py
        # reads X-Forwarded-For the same way, where the app runs without this server (tests, ASGI hosts).
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": ",".join(settings.trusted_proxies) or None,
    }


def run(settings: Settings) -> None:
    raise_descriptor_limit()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        **uvicorn_options(settings),
    )
