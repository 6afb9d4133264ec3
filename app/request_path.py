"""The one way an endpoint that takes a body is answered.

    media type -> the body, within its size and the bytes of bodies in flight
    -> only then, admission: a training slot, a worker's seat
    -> the endpoint: on the event loop if it is a small /predict, else in a worker process
    -> the answer, or the failure as errors.py words it

A small /predict (a 28x28 grid: a few kilobytes) is answered on the event loop: parsing it and
running the network take a fraction of a millisecond, less than handing it to another process.
Every input of at most INLINE_BYTES was measured to cost the loop at most a few milliseconds
(docs/RELIABILITY.md); anything larger, or a drawing to normalise, goes to a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from .config import Settings
from .errors import BodyTooLarge, Busy, ShuttingDown, TooManyTrainers, UnsupportedMediaType
from .handlers import Answer, Job, NeedsWorker, answer, failure
from .metrics import Metrics
from .pool import WorkerPool
from .service import Classifier

INLINE_BYTES = 32 * 1024  # a /predict body up to this size is answered on the event loop

MEDIA_TYPES = {  # what each endpoint's body must be
    "predict": "application/json",
    "explain": "application/json",
    "teach": "application/json",
    "predict_batch": "application/json",
    "predict_image": "multipart/form-data",
    "train": "application/json",
    "check": "application/json",
    "nudge": "application/json",
    "equation": "application/json",
    "read_drawing": "application/json",
}
INLINE_ENDPOINTS = ("predict", "read_drawing")  # small bodies of these are answered on the event loop
TRAINERS_PER_WORKER = 2  # /train requests in flight per worker process; more get 429 at once


def as_response(answer: Answer) -> Response:
    return Response(answer.body, answer.status, headers=answer.headers, media_type="application/json")


class BodyBudget:
    """Bytes of large request bodies that may be held at once: past the budget the next large
    request gets 503, not memory.

    A body is counted as its bytes arrive, not by the length it declares: a stalled upload that
    announced 8 MiB and sent ten bytes holds ten bytes, so a few of them cannot keep everyone else's
    uploads out. Bodies of at most INLINE_BYTES (a drawing from the page) are not counted: their
    memory is bounded by the connections (CNN_MAX_CONNECTIONS x 32 KiB).
    """

    def __init__(self, total: int) -> None:
        self.total, self.used = total, 0

    @contextlib.contextmanager
    def hold(self, declared: int | None) -> Iterator[Callable[[int], None]]:
        """Yields `received(n)`, to be called with each piece of the body as it arrives; what it
        counted is given back when the block ends."""
        held = 0

        def received(size: int) -> None:
            nonlocal held
            if declared is not None and declared <= INLINE_BYTES:
                return
            if self.used + size > self.total:
                raise Busy(f"{self.used:,} bytes of requests are being received")
            self.used += size
            held += size

        try:
            yield received
        finally:
            self.used -= held


class RequestPath:
    def __init__(
        self, settings: Settings, classifier: Classifier, pool: WorkerPool, metrics: Metrics | None = None
    ) -> None:
        self.settings, self.classifier, self.pool, self.metrics = settings, classifier, pool, metrics
        self.budget = BodyBudget(max(settings.bodies_in_flight_bytes, settings.max_body_bytes))
        self.trainers = 0  # /train requests admitted and not yet answered

    async def respond(self, request: Request, endpoint: str, **options: Any) -> Response:
        try:
            result = await self.answer(request, endpoint, **options)
        except ClientDisconnect:
            result = Answer(499, b"{}")  # nobody is listening; uvicorn drops it
        except asyncio.CancelledError:  # uvicorn cuts what still runs when the shutdown's grace period ends
            result = failure(ShuttingDown("the server is stopping; try again in a moment"))
        except Exception as e:  # noqa: BLE001 -- errors.py decides what each one means
            result = failure(e)
            if self.metrics is not None and isinstance(e, Busy | TooManyTrainers):
                self.metrics.turned_away("training" if isinstance(e, TooManyTrainers) else "busy")
        if self.metrics is not None and result.facts is not None:
            self.metrics.answered(endpoint, result.facts)
        return as_response(result)

    async def answer(self, request: Request, endpoint: str, **options: Any) -> Answer:
        content_type = request.headers.get("content-type", "")
        expected = MEDIA_TYPES[endpoint]
        if content_type.split(";")[0].strip().lower() != expected:
            raise UnsupportedMediaType(
                f"send the body as {expected} (Content-Type: {expected}), "
                f"not {content_type[:60] or 'without a Content-Type'}"
            )
        declared = request.headers.get("content-length", "")
        limit = self.settings.max_body_bytes
        length = None  # not declared (chunked): the reading counts it
        if declared.isascii() and declared.isdigit():
            length = int(declared) if len(declared) < 20 else limit + 1  # no 4,300-digit int() on the loop
        if length is not None and length > limit:
            raise BodyTooLarge(f"the request body is larger than {limit:,} bytes")
        with self.budget.hold(length) as received:
            body = await self.read_body(request, received)
            # The scarce things are taken only now, with the whole body in hand: a client that
            # stalls mid-body holds its connection and nothing else (issue 25).
            with self.training_slot(endpoint):
                job = Job(endpoint, body, content_type, **options)
                if endpoint in INLINE_ENDPOINTS and len(body) <= INLINE_BYTES:
                    with contextlib.suppress(NeedsWorker):
                        return answer(job, self.classifier, self.settings, on_loop=True)
                client_gone = asyncio.ensure_future(request.receive())  # completes when the client hangs up
                try:
                    return await self.pool.run(job, client_gone)
                finally:
                    client_gone.cancel()

    @contextlib.contextmanager
    def training_slot(self, endpoint: str) -> Iterator[None]:
        """Trainers take a few hundred milliseconds each, over and over: a small bound per worker
        keeps them from filling the pool's queue ahead of everyone else."""
        if endpoint != "train":
            yield
            return
        if self.trainers >= TRAINERS_PER_WORKER * self.settings.pool_workers:
            raise TooManyTrainers(f"{self.trainers} training requests are running; try again in a moment")
        self.trainers += 1
        try:
            yield
        finally:
            self.trainers -= 1

    async def read_body(self, request: Request, received: Callable[[int], None]) -> bytes:
        """The whole body, refused as it arrives once it passes the size limit, each piece counted by
        `received`. (Its deadline is kept by the connection, app/server.py: a timer there costs a
        fortieth of asyncio.timeout here.)"""
        limit, chunks, size = self.settings.max_body_bytes, [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"the request body is larger than {limit:,} bytes")
            received(len(chunk))
            chunks.append(chunk)
        return b"".join(chunks)
