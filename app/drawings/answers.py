"""The class's drawings' handlers (declared in endpoints.py, DRAWINGS): steps of their own on the
event loop whose database work runs in threads (asyncio.to_thread), and what a save reads of its body
(read_drawing, on the loop or in a worker); the teacher's token as a dependency, and what these
endpoints document of their errors.

Each step is called by the router with the Request and a Call (its validated parameters in
call.params); a save and a tuning have their body read by the request path as declared
(request.app.state.path.outcome): a save's 28x28 grid stays an array in this process, and is
pickled only when a worker read it.
"""

from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import numpy as np
from fastapi import Header, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from pydantic_core import to_json
from starlette.requests import ClientDisconnect

from app.config import Settings
from app.pictures.preprocessing import normalize
from app.transport.endpoints import Call
from app.transport.error_docs import ErrorResponse
from app.transport.errors import ClientMistake, failure
from app.transport.jobs import Job, NeedsWorker, as_response
from app.transport.strict_json import dumps

from .export import MEDIA_TYPES, ExportResponse, Format, first_page, stream
from .guard import (
    Guesses,
    Network,
    RateLimit,
    TooManyGuesses,
    Unauthorized,
    check_origin,
    check_token,
    client_address,
    identity,
)
from .models import MAX_PAGE, DrawingItem, DrawingPage, SaveRequest, Summary, TuneRequest
from .store import Drawing, Saved, Store
from .tuning import MAX_DRAWINGS, MIN_DRAWINGS, TooFewDrawings, pack

KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")  # Idempotency-Key: printable ASCII, as clients make them

TEACHER_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no token, or not the teacher's"},
    404: {"model": ErrorResponse, "description": "the collection is off (CNN_TEACHER_TOKEN is not set)"},
    429: {"model": ErrorResponse, "description": "too many wrong tokens from this address; wait `Retry-After`"},
    422: {"model": ErrorResponse, "description": "a query parameter or the id is malformed"},
    503: {"model": ErrorResponse, "description": "the database is unavailable; try again"},
}
SAVE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse, "description": "sent from a page on another site"},
    404: TEACHER_ERRORS[404],
    409: {"model": ErrorResponse, "description": "the collection is full (CNN_MAX_DRAWINGS)"},
    429: {
        "model": ErrorResponse,
        "description": "too many saves from this address (CNN_DRAWINGS_PER_MINUTE) or from everyone "
        "(CNN_DRAWINGS_PER_MINUTE_TOTAL)",
    },
}
BINARY = {"schema": {"type": "string", "format": "binary"}}
DELETE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "no such drawing (or the collection is off)"}
}
TRAINING_ERRORS: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorResponse, "description": "every training slot is taken; retry after a second"}
}
WEIGHTS_DOC: dict[int | str, dict[str, Any]] = {200: {"content": {"application/octet-stream": BINARY}}}


@dataclass
class Collection:
    """The collection while it is on (CNN_TEACHER_TOKEN): app.state.drawings, set by drawings_router.py's lifespan."""

    settings: Settings
    store: Store
    rate: RateLimit
    guesses: Guesses
    trusted: tuple[Network, ...]  # CNN_TRUSTED_PROXIES

    def who(self, request: Request) -> str:
        """The client, as the rate limits know it (guard.identity)."""
        peer = request.client.host if request.client else None
        return identity(client_address(peer, request.headers.getlist("x-forwarded-for"), self.trusted))


class ClassHooks(Protocol):
    """What the drawings ask of the classes, which sit above them (app/classes/hooks.py answers;
    the classes' lifespan puts it on app.state.class_hooks): whether a save may go into a class, and
    telling the boards of a save or a deletion."""

    async def admit_save(self, request: Request, text: str) -> str: ...

    def saved_into(self, request: Request) -> None: ...

    async def deleting(self, request: Request, drawing_id: int) -> str | None: ...

    async def deleted(self, request: Request, drawing_id: int, code: str) -> None: ...


def class_hooks(request: Request) -> ClassHooks:
    hooks: ClassHooks = request.app.state.class_hooks
    return hooks


def collection(request: Request) -> Collection:
    found: Collection | None = request.app.state.drawings
    if found is None:
        raise HTTPException(404, "Not Found")
    return found


def teacher(request: Request, authorization: Annotated[str | None, Header(include_in_schema=False)] = None) -> Store:
    """The teacher's endpoints: 404 while off, 401 without the token (and nothing more said); an
    address that sent GUESSES_PER_MINUTE wrong tokens gets 429 until it may guess again."""
    found = collection(request)
    who = found.who(request)
    try:
        found.guesses.allow(who)
        check_token(authorization, found.settings.teacher_token)
    except TooManyGuesses as e:
        turned_away(request, "guessing")
        raise HTTPException(429, str(e), headers={"Retry-After": str(e.retry_after)}) from None
    except Unauthorized as e:
        if authorization is not None:  # a token was tried: a guess
            found.guesses.wrong(who)
            turned_away(request, "wrong_token")
        raise HTTPException(401, str(e), headers={"WWW-Authenticate": "Bearer"}) from None
    return found.store


def turned_away(request: Request, reason: str) -> None:
    metrics = request.app.state.path.metrics
    if metrics is not None:
        metrics.turned_away(reason)


class SaveHeaders(BaseModel):
    idempotency_key: str | None = Field(
        None, title="Idempotency-Key", max_length=200, description="a save retried with the same key is stored once"
    )


@dataclass(frozen=True, slots=True)
class Reading:
    """What a save's body says once the served network has read it."""

    grid: np.ndarray  # (28, 28), in the network's float type: exactly what it read
    label: int  # the digit meant
    answer: int  # the network's digit
    probability: float  # its probability for that digit
    class_: str | None  # the class it is saved into, as sent


def read_drawing(job: Job, call: Call) -> Reading:
    """The save's body read (endpoints.py's Body): the grid the served network reads, and its answer.
    A 28x28 grid on the event loop, like a small /predict; a drawing to normalise in a worker."""
    req = SaveRequest.model_validate_json(job.body, context={"max_drawing_side": call.settings.max_drawing_side})
    if req.params is not None:  # SaveRequest takes any drawing /predict takes, but the served network reads it
        raise ClientMistake("params: a saved drawing is read by the served network; leave params out")
    if call.on_loop and req.normalize:  # normalising may take milliseconds: a worker's job, as for /predict
        raise NeedsWorker
    clf = call.classifier
    grid = np.asarray(normalize(req.grid()) if req.normalize else req.grid(), dtype=clf.dtype)
    p = clf.predict(grid)
    return Reading(grid, req.label, p.label, float(p.probabilities[p.label]), req.class_)


async def save_drawing(request: Request, call: Call) -> Response:
    """Stores exactly the 28x28 grid the served network read, the digit meant, the network's answer
    and probability, the weights' SHA-256 and the time: nothing about the person. 201 only once the
    drawing is committed to the database."""
    key = call.params["headers"].idempotency_key
    found = collection(request)
    try:
        check_origin(request.headers.get("origin"), request.headers.get("host"), found.settings.cors_origins)
        found.rate.take(found.who(request))
        if key is not None and not KEY_PATTERN.fullmatch(key):
            raise ClientMistake("Idempotency-Key must be 1 to 200 printable ASCII characters")
        read = await request.app.state.path.outcome(request, "save_drawing")  # read_drawing's Reading
        if read.status != 200:
            return as_response(read)
        r: Reading = read.value
        code = None if r.class_ is None else await class_hooks(request).admit_save(request, r.class_)
        grid = r.grid.astype("<f4").tobytes()  # as the database keeps it
        drawing = Drawing(grid, r.label, r.answer, r.probability, call.classifier.metadata["sha256"], class_code=code)
        saved = await found.store.add(drawing, key)
        if code is not None:
            class_hooks(request).saved_into(request)
    except ClientDisconnect:
        return Response(status_code=499)
    except Exception as e:  # noqa: BLE001 -- each failure's class says its status (the same-site check's
        return as_response(failure(e))  # 403, the rate's 429, the database's 503), as for every endpoint
    d = saved.drawing  # SaveResponse's fields, without a second validation (the hot path)
    content = {"id": saved.id, "label": d.label, "answer": d.answer, "probability": d.probability}
    return Response(to_json(content | {"repeated": saved.repeated}), 201, media_type="application/json")


def item(saved: Saved) -> DrawingItem:
    d = saved.drawing
    return DrawingItem(
        id=saved.id,
        created_at=d.created_at,
        label=d.label,
        answer=d.answer,
        probability=d.probability,
        weights_sha256=d.weights_sha256,
        pixels=base64.b64encode(d.pixels().tobytes()).decode(),
    )


class PageQuery(BaseModel):
    cursor: str | None = Field(None, pattern=r"^[0-9]{1,18}$", description="the `next` of the last page")
    digit: int | None = Field(None, ge=0, le=9, description="only drawings meant as this digit")
    wrong: bool = Field(False, description="only drawings the network read as another digit")
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    class_: str | None = Field(None, alias="class", max_length=12, description="only this class's drawings")


class ClassQuery(BaseModel):
    class_: str | None = Field(None, alias="class", max_length=12, description="only this class's drawings")


async def list_drawings(request: Request, call: Call) -> DrawingPage:
    query: PageQuery = call.params["query"]
    store = collection(request).store
    cursor, limit = query.cursor, query.limit
    before = int(cursor) if cursor else None
    rows: list[Saved] = await asyncio.to_thread(store.page, limit, before, query.digit, query.wrong, query.class_)
    more = len(rows) == limit
    return DrawingPage(items=[item(r) for r in rows], next=str(rows[-1].id) if rows and more else None)


async def summary(request: Request, call: Call) -> Summary:
    query: ClassQuery = call.params["query"]
    matrix, by_weights, newest = await asyncio.to_thread(collection(request).store.confusion, query.class_)
    total = int(matrix.sum())
    sha = call.classifier.metadata["sha256"]
    return Summary(
        total=total,
        counts=matrix.sum(axis=1).tolist(),
        accuracy=float(matrix.trace() / total) if total else None,
        confusion=matrix.tolist(),
        served_sha256=sha,
        answered_by_served=by_weights.get(sha, 0),
        newest_id=newest,
    )


class ExportQuery(BaseModel):
    format: Format = Field("npz", description="npz or idx")
    class_: str | None = Field(None, alias="class", max_length=12, description="only this class's drawings")


EXPORT_DOC: dict[int | str, dict[str, Any]] = {200: {"content": {t: BINARY for t in MEDIA_TYPES.values()}}}


async def export(request: Request, call: Call) -> StreamingResponse:
    query: ExportQuery = call.params["query"]
    store = collection(request).store
    # The database's faults: a 503 before the first byte (DatabaseUnavailable says so itself).
    count, first = await asyncio.to_thread(first_page, store, query.class_)
    return ExportResponse(stream(store, query.format, count, first, query.class_), query.format)


async def delete_drawing(request: Request, call: Call) -> Response:
    drawing_id: int = call.params["drawing_id"]
    code = await class_hooks(request).deleting(request, drawing_id)
    if not await asyncio.to_thread(collection(request).store.delete, drawing_id):
        raise HTTPException(404, f"there is no drawing {drawing_id}")
    if code is not None:
        await class_hooks(request).deleted(request, drawing_id, code)
    return Response(status_code=204)


async def tune(request: Request, call: Call) -> Response:
    """Without `resume`, a run starts from the served network; each answer's `resume` continues it.
    The copy learns from the class's drawings mixed with MNIST's small set and is scored, before and
    after, on every fifth drawing (never trained on) and on MNIST's held-out images. Its `params`
    answer /predict as the class's copy; nothing is kept on the server."""
    store = collection(request).store

    async def with_training_set(job: Job) -> Job:
        req = TuneRequest.model_validate_json(job.body)  # a small body: its mistakes are told before any work
        ids, images, labels = await asyncio.to_thread(store.training_set, MAX_DRAWINGS, req.class_)
        if len(ids) < MIN_DRAWINGS:
            raise TooFewDrawings(f"save at least {MIN_DRAWINGS} drawings before fine-tuning (there are {len(ids)})")
        return Job(job.endpoint, pack(job.body, ids, images, labels))

    tuned = await request.app.state.path.outcome(request, "tune", prepare=with_training_set)  # in a worker
    if tuned.status != 200:
        return as_response(tuned)
    return Response(dumps(tuned.value), media_type="application/json")
