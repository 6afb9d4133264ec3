"""The one way every endpoint is answered, as its declaration says (endpoints.py's record).

    the route (enter) -> a handler that is a step of its own on the loop is called; it may ask for
    its body (outcome), which is read as any other:
    media type -> the body, within its size and the bytes of bodies in flight
    -> only then, admission: a training slot (if it takes one), a worker's seat
    -> the body read and the handler run (answer_job): on the event loop (runs="loop", or a body
       within inline_bytes), else in a worker
    -> the answer, or the failure as errors.py words it, in the endpoint family's shape

A small /predict (a 28x28 grid: a few kilobytes) is answered on the event loop: parsing it and
running the network take a fraction of a millisecond, less than handing it to another process.
Every input of at most INLINE_BYTES was measured to cost the loop at most a few milliseconds
(docs/RELIABILITY.md); anything larger, or a drawing to normalise, goes to a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from app.config import Settings
from model.floats import flush_to_zero

from . import backlog
from .endpoints import INLINE_BYTES, Call, Endpoint
from .errors import BodyTooLarge, Busy, Compressed, ShuttingDown, TooManyTrainers, UnsupportedMediaType
from .facts import Facts
from .jobs import Answer, Job, NeedsWorker, as_response
from .metrics import Metrics
from .pool import WorkerPool
from .strict_json import dumps
from .training_slots import TrainingSlots

Prepare = Callable[[Job], Awaitable[Job]]
TRAINERS_PER_WORKER = 2  # /train requests in flight per worker process; more get 429 at once


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
        self,
        settings: Settings,
        classifier: Any,
        pool: WorkerPool,
        metrics: Metrics | None = None,
        endpoints: Mapping[str, Endpoint] | None = None,
    ) -> None:
        """`endpoints`: every endpoint by name (app/registry.py's), for the callers that name one."""
        self.settings, self.classifier, self.pool, self.metrics = settings, classifier, pool, metrics
        self.endpoints = endpoints or {}
        self.budget = BodyBudget(max(settings.bodies_in_flight_bytes, settings.max_body_bytes))
        # Training requests admitted and not yet answered: visitors' and the teacher's apart (issue 33).
        self.slots = TrainingSlots(TRAINERS_PER_WORKER * settings.pool_workers)

    @property
    def trainers(self) -> int:
        return self.slots.total

    async def respond(self, request: Request, endpoint: Endpoint, query: dict[str, Any] | None = None) -> Response:
        return as_response(await self.outcome(request, endpoint, query))

    async def outcome(
        self,
        request: Request,
        endpoint: Endpoint | str,
        query: dict[str, Any] | None = None,
        prepare: Prepare | None = None,
    ) -> Answer:
        """The endpoint's answer (by its declaration, or its name), or its failure's, counted by the
        metrics. For a handler that is a step of its own, the answer's `value` is its body as read."""
        endpoint = self.endpoints[endpoint] if isinstance(endpoint, str) else endpoint
        try:
            result = await self.answer(request, endpoint, query, prepare)
        except HTTPException:
            raise  # a refusal in FastAPI's words, from a route's own step (`prepare`)
        except ClientDisconnect:
            result = Answer(499, b"{}")  # nobody is listening; uvicorn drops it
        except asyncio.CancelledError:  # uvicorn cuts what still runs when the shutdown's grace period ends
            result = endpoint.fail(ShuttingDown("the server is stopping; try again in a moment"))
        except Exception as e:  # noqa: BLE001 -- each failure's class says what it means (errors.py)
            result = endpoint.fail(e)
            if self.metrics is not None and isinstance(e, Busy | TooManyTrainers):
                self.metrics.turned_away("training" if isinstance(e, TooManyTrainers) else "busy")
        if self.metrics is not None and result.facts is not None:
            self.metrics.answered(endpoint.name, result.facts)
        return result

    async def answer(
        self, request: Request, endpoint: Endpoint, query: dict[str, Any] | None = None, prepare: Prepare | None = None
    ) -> Answer:
        """The endpoint's answer, or the failure raised. `prepare`, if given, turns the admitted job
        into the one that runs, on the event loop (the drawings' tuning adds the class's drawings, read
        from the database in a thread)."""
        query = query or {}
        if endpoint.params.check is not None:
            endpoint.params.check(query, self.classifier)
        if endpoint.request is None:
            with self.training_slot(endpoint):
                return await self.run(endpoint, Job(endpoint.name, query=query), request)
        admit_backlog(self.settings.answer_backlog_bytes)  # work whose answer could not be sent now
        headers = request.headers
        if endpoint.request.identity_only and headers.get("content-encoding", "identity").strip().lower() != "identity":
            raise Compressed("send the body uncompressed, without a Content-Encoding")
        content_type = headers.get("content-type", "")
        expected = endpoint.request.media_type
        if expected is not None and content_type.split(";")[0].strip().lower() != expected:
            raise UnsupportedMediaType(
                f"send the body as {expected} (Content-Type: {expected}), "
                f"not {content_type[:60] or 'without a Content-Type'}"
            )
        declared = headers.get("content-length", "")
        limit = endpoint.request.max_bytes or self.settings.max_body_bytes
        length = None  # not declared (chunked): the reading counts it
        if declared.isascii() and declared.isdigit():
            length = int(declared) if len(declared) < 20 else limit + 1  # no 4,300-digit int() on the loop
        if length is not None and length > limit:
            raise BodyTooLarge(f"the request body is larger than {limit:,} bytes")
        with self.budget.hold(length) as received:
            body = await self.read_body(request, limit, received)
            header = endpoint.request.header
            job = Job(endpoint.name, body, content_type, query, headers.get(header) if header else None)
            # The scarce things are taken only now, with the whole body in hand: a client that
            # stalls mid-body holds its connection and nothing else (issue 25).
            with self.training_slot(endpoint):
                return await self.run(endpoint, job if prepare is None else await prepare(job), request)

    async def run(self, endpoint: Endpoint, job: Job, request: Request) -> Answer:
        """The job's answer, from the event loop where the endpoint allows it, else from a worker."""
        runs = endpoint.runs
        if runs.where == "loop" or (runs.inline_bytes > 0 and len(job.body) <= runs.inline_bytes):
            with contextlib.suppress(NeedsWorker):
                return answer_job(endpoint, job, self.classifier, self.settings, on_loop=True)
        client_gone = asyncio.ensure_future(request.receive())  # completes when the client hangs up
        try:
            return await self.pool.run(job, client_gone)
        finally:
            client_gone.cancel()

    def training_slot(self, endpoint: Endpoint | str) -> contextlib.AbstractContextManager[None]:
        """Trainers take a few hundred milliseconds each, over and over: a small bound per worker
        keeps them from filling the pool's queue ahead of everyone else."""
        endpoint = self.endpoints[endpoint] if isinstance(endpoint, str) else endpoint
        whose = endpoint.runs.training_slot
        return self.slots.hold(whose) if whose is not None else contextlib.nullcontext()

    async def read_body(self, request: Request, limit: int, received: Callable[[int], None]) -> bytes:
        """The whole body, refused as it arrives once it passes `limit`, each piece counted by
        `received`. (Its deadline is kept by the connection, app/transport/server.py: a timer there
        costs far less than asyncio.timeout here, BENCHMARKS.md.)"""
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"the request body is larger than {limit:,} bytes")
            received(len(chunk))
            chunks.append(chunk)
        return b"".join(chunks)


async def enter(endpoint: Endpoint, request: Request, **values: Any) -> Any:
    """Where each route enters (routing.route, which FastAPI calls with the parameters validated): a
    handler that is a step of its own is given them; any other request is answered by the path."""
    path: RequestPath = request.app.state.path
    if endpoint.steps:  # its own step on the event loop, given its parameters as validated
        return await endpoint.handler(request, Call(path.classifier, path.settings, Facts(), True, values))
    query = values.pop("query").model_dump() if "query" in values else {}
    return await path.respond(request, endpoint, query | values or None)  # values: the path's, as text


def admit_backlog(budget: int) -> None:
    """Refuses (503, Retry-After) a request while more than `budget` bytes of answers wait to be read
    by their clients, in this process's connections (backlog.py)."""
    waiting = sum(t.get_write_buffer_size() for t in backlog.WAITING)
    if waiting > budget:
        raise Busy(f"{waiting:,} bytes of answers are waiting for their clients to read them")


def answer_job(endpoint: Endpoint, job: Job, clf: Any, settings: Settings, *, on_loop: bool = False) -> Answer:
    """A Job -> its endpoint's Answer: the body read as declared, the handler run, the answer encoded;
    or its failure in its family's words. The same function answers on the event loop and in a
    worker process (pool.py, through app/registry.py). On the event loop (on_loop) a request that
    needs more work than the loop may do raises NeedsWorker instead."""
    facts = Facts()
    call = Call(clf, settings, facts, on_loop, job.query)
    body = endpoint.request
    try:
        with flush_to_zero():  # a subnormal costs what any other number does (model/floats.py)
            if body is None:
                request = None
            elif body.read is not None:
                request = body.read(job, call)
            elif body.model is not None:
                request = body.model.model_validate_json(
                    job.body, context={"max_drawing_side": settings.max_drawing_side}
                )
            else:
                request = job
            if endpoint.steps:  # its own step, on the loop, takes the body as read from here
                return Answer(200, b"", value=request)
            content = endpoint.handler(request, call)
        if isinstance(content, Answer):
            return content
        if isinstance(content, bytes):
            return Answer(200, content, media_type=endpoint.reply.media_type)
        encoded = dumps(content)
        facts.lap("encode")
        # The stages' metrics are of reading bodies: an endpoint that reads none (GET) has no stages.
        return Answer(200, encoded, facts=facts if body is not None else None)
    except NeedsWorker:
        raise
    except Exception as e:  # noqa: BLE001 -- every failure is answered, and logged when it is ours
        return endpoint.fail(e)
