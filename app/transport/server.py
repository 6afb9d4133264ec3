"""Running the application under uvicorn, hardened at the connection level.

- httptools parses HTTP (llhttp, strict): a request with both Transfer-Encoding and Content-Length
  is refused with 400 and its connection closed, so nothing hides a second request in its body.
- A connection must deliver a request's headers within `header_timeout` of its start (or of the
  request's first byte), and its body within `body_timeout` of the headers; one that dawdles gets
  408 and is closed. (uvicorn closes idle keep-alive connections by itself, but waits forever for
  half-sent headers and bodies.)
- A request's line and headers may take `max_header_bytes` bytes and `max_headers` headers; past
  either, 431 and the connection closed. The bytes are counted before they reach the parser, which
  is fed no more than the bound: httptools has no limit of its own and joins a header's pieces by
  concatenation, so a 101 MB header held the loop for seconds (docs/RELIABILITY.md, round 4).
  After a 431 what still arrives is dropped unparsed for a moment, so that the kernel's reset does
  not overtake the answer. A chunked body's size lines and trailers are bounded the same way (past
  it the connection is cut: the request is being answered). The parser is fed a body in pieces of 64 KiB
  too, and a head that starts in the same piece as the previous request's end is counted from the
  next piece on, so a pipelined head may pass the bound by at most 64 KiB.
- An answer's bytes must leave within `write_timeout` seconds of being left unsent (the client
  reads nothing): past it the connection is cut (aborted: a close would wait to send them). The
  scope's DRAINED extension (app/transport/backlog.py) waits for the last byte to leave, so the
  request log times an answer to its end, not to its hand-over; the connections with unsent bytes
  are what the request path sums for its budget (backlog.py keeps them).
- An answer given before its request's body was read (503, 413) starts the idle keep-alive wait
  when the body's end arrives: uvicorn's, armed at the answer, is stopped by the body's arrival.
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

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import Settings, get_settings

from .backlog import DRAINED, WAITING


def closing_answer(status: bytes, sentence: str) -> bytes:
    """A whole answer, written by the connection itself before the application sees the request."""
    detail = json.dumps({"detail": sentence}).encode()
    return b"HTTP/1.1 %s\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s" % (
        status,
        len(detail),
        detail,
    )


def request_timeout(what: str, seconds: float) -> bytes:
    return closing_answer(b"408 Request Timeout", f"the request {what} did not arrive within {seconds:g} s")


LINGER_SECONDS, LINGER_BYTES = 1.0, 1024 * 1024  # read and dropped after a 431, so that it arrives
FEED_BYTES = 64 * 1024  # the most a head may pass its bound by: one piece of a body, the head's start in it


class HeadTooLarge(Exception):
    """Raised from the parser's callback to stop it at the header past the count."""


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with deadlines for each request's headers, body and answer, and
    bounds on the bytes and the number of its headers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.header_timeout, self.body_timeout = settings.header_timeout, settings.body_timeout
        self.write_timeout = settings.write_timeout
        self.max_head_bytes, self.max_headers = settings.max_header_bytes, settings.max_headers
        self.deadline: asyncio.TimerHandle | None = None
        self.writing: asyncio.TimerHandle | None = None  # the write deadline, while bytes wait to be sent
        self.in_head = True  # the parser is reading a request line and headers (or waits for one), or trailers
        self.in_request_head = True  # ... the request's own: no application is answering it yet
        self.head_bytes = 0  # bytes of the current head fed to the parser
        self.header_count = 0
        self.refused = False  # answered 431: nothing more is parsed
        self.lingered = 0  # bytes dropped since
        self.cut = False  # closed with answer bytes unsent

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
        # Paused at the first unsent byte, resumed at the last: the pause is the write deadline's
        # start, the resumption an answer's end (app/transport/backlog.py).
        transport.set_write_buffer_limits(high=0, low=0)
        self._arm(self.header_timeout, "headers")

    # Headers, bounded before the parser sees them.

    def data_received(self, data: bytes) -> None:
        if self.refused:  # answered 431: what still arrives is read and dropped for a moment (below)
            self.lingered += len(data)
            if self.lingered > LINGER_BYTES:
                self.transport.close()
            return
        self._unset_keepalive_if_required()
        rest = memoryview(data)
        while rest:
            if self.in_head:
                room = self.max_head_bytes - self.head_bytes
                if room <= 0:
                    return self._refuse_head(f"{self.max_head_bytes:,} bytes")
                piece, rest = rest[:room], rest[room:]
                self.head_bytes += len(piece)
            else:  # a body, fed in pieces too: a head that begins inside one is counted from the next
                piece, rest = rest[:FEED_BYTES], rest[FEED_BYTES:]
            if not self._feed(piece):
                return

    def _feed(self, piece: memoryview) -> bool:
        """uvicorn's data_received for one piece; False once the connection is answered and closing."""
        try:
            self.parser.feed_data(piece)
        except httptools.HttpParserCallbackError as e:
            if isinstance(e.__context__, HeadTooLarge):
                self._refuse_head(f"{self.max_headers} headers")
                return False
            self._bad_request()
            return False
        except httptools.HttpParserError:
            self._bad_request()
            return False
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return False
        return not self.transport.is_closing()

    def _bad_request(self) -> None:
        msg = "Invalid HTTP request received."
        self.logger.warning(msg)
        self.send_400_response(msg)

    def _refuse_head(self, bound: str) -> None:
        """431, then the connection closed: at once for sending, after a moment for reading. Closing a
        socket with unread bytes makes the kernel reset it, and the reset can overtake the 431; so what
        the client still sends is read unparsed and dropped, until it hangs up, for at most
        LINGER_SECONDS and LINGER_BYTES (as nginx's lingering close)."""
        self.refused = True
        self._disarm()
        if self.transport.is_closing():
            return
        if not self.in_request_head or (self.cycle is not None and not self.cycle.response_complete):
            # Trailers, or a pipelined request's head while the one before is answered: a 431 would
            # be a second answer to one request, or fall in the middle of another's. Cut instead.
            self.transport.abort()
            return
        sentence = (
            f"the request line and headers must fit in {self.max_head_bytes:,} bytes and "
            f"{self.max_headers} headers; this request's went past {bound}"
        )
        self.transport.write(closing_answer(b"431 Request Header Fields Too Large", sentence))
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self.flow.resume_reading()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def on_chunk_header(self) -> None:
        """A chunk's size line, or the last one's, which trailers (headers) may follow: bounded as a
        head is, until the chunk's data begins (a 20 MB trailer was read whole before)."""
        self.in_head, self.head_bytes = True, 0

    def on_body(self, body: bytes) -> None:
        self.in_head, self.head_bytes = False, 0
        super().on_body(body)

    def on_message_begin(self) -> None:
        self.in_request_head = True
        super().on_message_begin()
        self.header_count = 0
        self.scope["extensions"] = {DRAINED: self.drained}  # type: ignore[dict-item]  # ASGI types values as dicts
        self._arm(self.header_timeout, "headers")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_count += 1
        if self.header_count > self.max_headers:
            raise HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.in_head = self.in_request_head = False
        self._arm(self.body_timeout, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self.in_head, self.head_bytes = True, 0
        super().on_message_complete()
        if self.cycle is not None and self.cycle.response_complete and not self.pipeline:
            # Answered before its body was read (a 503, a 413): the body's end, not the answer's,
            # starts the idle wait. uvicorn's wait, armed at the answer, was stopped by the body's
            # arrival, and nothing else would ever close the connection (91 of 150 were still open
            # after 40 s, docs/RELIABILITY.md, round 4).
            self._unset_keepalive_if_required()
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    # Answers, bounded in time.

    def pause_writing(self) -> None:
        super().pause_writing()
        WAITING.add(self.transport)
        if self.writing is None:
            self.writing = self.loop.call_later(self.write_timeout, self._unread)

    def resume_writing(self) -> None:
        self._stop_writing()
        super().resume_writing()

    def _stop_writing(self) -> None:
        WAITING.discard(self.transport)
        if self.writing is not None:
            self.writing.cancel()
            self.writing = None

    def _unread(self) -> None:
        """The client read nothing of what waits for it in `write_timeout` seconds: cut."""
        self.writing = None
        self.cut = True
        self.transport.abort()

    async def drained(self) -> bool:
        """Waits until every byte handed to the connection has left; False if it closed first."""
        await self.flow.drain()  # set again by resume_writing, or by connection_lost
        return not self.cut

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.flow is not None and self.flow.write_paused:
            self.cut = True
        self._stop_writing()
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
