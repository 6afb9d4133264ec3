"""The class's drawings over HTTP: one router, included once by app/main.py, with its own lifespan.

    POST   /drawings           save a drawing (anyone, from this site's page; rate-limited)
    GET    /drawings           the teacher's list, newest first, a page at a time
    GET    /drawings/summary   counts per digit, the network's accuracy, its confusion matrix
    GET    /drawings/export    the collection as npz or as MNIST's IDX files, streamed
    DELETE /drawings/{id}      remove one
    POST   /drawings/tune      fine-tune a copy of the served network on them (tuning.py)

All of them answer 404 unless CNN_TEACHER_TOKEN is set: without a teacher, nothing is collected.
Database work runs in threads (the store's writer, asyncio.to_thread), never on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic_core import to_json
from starlette.requests import ClientDisconnect

from app.api.endpoints import BY_NAME
from app.api.responses import ErrorResponse
from app.api.routes import ERRORS, documented_body
from app.config import Settings
from app.errors import ClientMistake, failure
from app.transport.jobs import Job
from app.transport.request_path import RequestPath, as_response

from .database import Database, DatabaseUnavailable, describe_url
from .export import FILENAMES, MEDIA_TYPES, Format, stream
from .guard import CrossSite, RateLimit, TooFast, Unauthorized, check_origin, check_token
from .models import (
    MAX_PAGE,
    DrawingItem,
    DrawingPage,
    SaveRequest,
    SaveResponse,
    Summary,
    TuneRequest,
    TuneResponse,
    WeightsRequest,
)
from .store import Drawing, Saved, Store
from .tuning import MAX_DRAWINGS, MIN_DRAWINGS, TooFewDrawings, pack

log = logging.getLogger("uvicorn.error")

KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")  # Idempotency-Key: printable ASCII, as clients make them


class DrawingsUnavailable(RuntimeError):
    """The collection is on (CNN_TEACHER_TOKEN) but its database cannot be opened: the service does not start."""


@dataclass
class Collection:
    settings: Settings
    store: Store
    rate: RateLimit


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.drawings = None
    if not settings.collecting:
        yield
        return
    db = Database.of(settings.database_url, settings.data_dir)
    store = Store(db, settings.max_drawings)
    try:
        version = await asyncio.to_thread(store.open)
    except Exception as e:
        raise DrawingsUnavailable(
            f"cannot start: the drawings' database ({db.dialect} {describe_url(db.target)}) cannot be opened: "
            f"{str(e.__cause__ or e).strip().splitlines()[0]}. Set CNN_DATABASE_URL (or CNN_DATA_DIR to a "
            "writable directory), or unset CNN_TEACHER_TOKEN."
        ) from e
    app.state.drawings = Collection(settings, store, RateLimit(settings.drawings_per_minute))
    log.info("drawings: %s %s, schema version %d", db.dialect, describe_url(db.target), version)
    try:
        yield
    finally:
        await asyncio.to_thread(store.close)


router = APIRouter(lifespan=lifespan)


def collection(request: Request) -> Collection:
    found: Collection | None = request.app.state.drawings
    if found is None:
        raise HTTPException(404, "Not Found")
    return found


def teacher(request: Request, authorization: Annotated[str | None, Header(include_in_schema=False)] = None) -> Store:
    """The teacher's endpoints: 404 while off, 401 without the token (and nothing more said)."""
    found = collection(request)
    try:
        check_token(authorization, found.settings.teacher_token)
    except Unauthorized as e:
        raise HTTPException(401, str(e), headers={"WWW-Authenticate": "Bearer"}) from None
    return found.store


TeacherStore = Annotated[Store, Depends(teacher)]
TEACHER_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no token, or not the teacher's"},
    404: {"model": ErrorResponse, "description": "the collection is off (CNN_TEACHER_TOKEN is not set)"},
    422: {"model": ErrorResponse, "description": "a query parameter or the id is malformed"},
    503: {"model": ErrorResponse, "description": "the database is unavailable; try again"},
}


def refusal(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status, headers=headers)


async def in_thread(function: Any, *args: Any) -> Any:
    try:
        return await asyncio.to_thread(function, *args)
    except DatabaseUnavailable as e:
        raise HTTPException(503, str(e), headers={"Retry-After": "1"}) from None


@router.post(
    "/drawings",
    status_code=201,
    response_model=SaveResponse,
    responses=ERRORS
    | {
        403: {"model": ErrorResponse, "description": "sent from a page on another site"},
        404: TEACHER_ERRORS[404],
        409: {"model": ErrorResponse, "description": "the collection is full (CNN_MAX_DRAWINGS)"},
        429: {"model": ErrorResponse, "description": "too many saves from this address (CNN_DRAWINGS_PER_MINUTE)"},
    },
    summary="Save a drawing for the class, with the digit it is meant to be",
    openapi_extra=documented_body(SaveRequest),
)
async def save_drawing(
    request: Request,
    idempotency_key: Annotated[
        str | None, Header(max_length=200, description="a save retried with the same key is stored once")
    ] = None,
) -> Response:
    """Stores exactly the 28x28 grid the served network read, the digit meant, the network's answer
    and probability, the weights' SHA-256 and the time: nothing about the person. 201 only once the
    drawing is committed to the database."""
    found = collection(request)
    try:
        check_origin(request.headers.get("origin"), request.headers.get("host"), found.settings.cors_origins)
        found.rate.take(request.client.host if request.client else "")
        if idempotency_key is not None and not KEY_PATTERN.fullmatch(idempotency_key):
            raise ClientMistake("Idempotency-Key must be 1 to 200 printable ASCII characters")
        path: RequestPath = request.app.state.path
        read = await path.answer(request, "read_drawing")
        if read.status != 200:
            return as_response(read)
        content = json.loads(read.body)
        drawing = Drawing(
            base64.b64decode(content["grid"]),
            content["label"],
            content["answer"],
            content["probability"],
            path.classifier.metadata["sha256"],
        )
        saved = await found.store.add(drawing, idempotency_key)
    except CrossSite as e:
        return refusal(403, str(e))
    except TooFast as e:
        return refusal(429, str(e), {"Retry-After": str(e.retry_after)})
    except DatabaseUnavailable as e:
        return refusal(503, str(e), {"Retry-After": "1"})
    except ClientDisconnect:
        return Response(status_code=499)
    except Exception as e:  # noqa: BLE001 -- errors.py words the rest, as for every endpoint
        return as_response(failure(e))
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


@router.get("/drawings", response_model=DrawingPage, responses=TEACHER_ERRORS, summary="The class's drawings")
async def list_drawings(
    store: TeacherStore,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$", description="the `next` of the last page")] = None,
    digit: Annotated[int | None, Query(ge=0, le=9, description="only drawings meant as this digit")] = None,
    wrong: Annotated[bool, Query(description="only drawings the network read as another digit")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> DrawingPage:
    rows: list[Saved] = await in_thread(store.page, limit, int(cursor) if cursor else None, digit, wrong)
    more = len(rows) == limit
    return DrawingPage(items=[item(r) for r in rows], next=str(rows[-1].id) if rows and more else None)


@router.get(
    "/drawings/summary", response_model=Summary, responses=TEACHER_ERRORS, summary="How the network reads the class"
)
async def summary(store: TeacherStore, request: Request) -> Summary:
    matrix, by_weights = await in_thread(store.confusion)
    total = int(matrix.sum())
    sha = request.app.state.classifier.metadata["sha256"]
    return Summary(
        total=total,
        counts=matrix.sum(axis=1).tolist(),
        accuracy=float(matrix.trace() / total) if total else None,
        confusion=matrix.tolist(),
        served_sha256=sha,
        answered_by_served=by_weights.get(sha, 0),
    )


@router.get(
    "/drawings/export",
    response_class=Response,  # bytes, not JSON: what the OpenAPI document and generated clients see
    responses=TEACHER_ERRORS
    | {200: {"content": {t: {"schema": {"type": "string", "format": "binary"}} for t in MEDIA_TYPES.values()}}},
    summary="The collection as MNIST: npz (images, labels) or the IDX files, zipped",
)
async def export(
    store: TeacherStore, format: Annotated[Format, Query(description="npz or idx")] = "npz"
) -> StreamingResponse:
    return StreamingResponse(  # a plain iterator: Starlette runs each step in a thread
        stream(store, format),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{FILENAMES[format]}"'},
    )


@router.delete(
    "/drawings/{drawing_id}",
    status_code=204,
    responses=TEACHER_ERRORS
    | {404: {"model": ErrorResponse, "description": "no such drawing (or the collection is off)"}},
    summary="Remove one drawing",
)
async def delete_drawing(store: TeacherStore, drawing_id: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
    if not await in_thread(store.delete, drawing_id):
        raise HTTPException(404, f"there is no drawing {drawing_id}")
    return Response(status_code=204)


@router.post(
    "/drawings/tune",
    response_model=TuneResponse,
    responses=ERRORS
    | TEACHER_ERRORS
    | {429: {"model": ErrorResponse, "description": "every training slot is taken; retry after a second"}},
    summary="Fine-tune a copy of the served network on the class's drawings, a few steps at a time",
    openapi_extra=documented_body(TuneRequest),
)
async def tune(request: Request, store: TeacherStore) -> Response:
    """Without `resume`, a run starts from the served network; each answer's `resume` continues it.
    The copy learns from the class's drawings mixed with MNIST's small set and is scored, before and
    after, on every fifth drawing (never trained on) and on MNIST's held-out images. Its `params`
    answer /predict as the class's copy; nothing is kept on the server."""

    async def with_training_set(job: Job) -> Job:
        TuneRequest.model_validate_json(job.body)  # a small body: its mistakes are told before any work
        ids, images, labels = await in_thread(store.training_set, MAX_DRAWINGS)
        if len(ids) < MIN_DRAWINGS:
            raise TooFewDrawings(f"save at least {MIN_DRAWINGS} drawings before fine-tuning (there are {len(ids)})")
        return Job(job.endpoint, pack(job.body, ids, images, labels))

    path: RequestPath = request.app.state.path  # the body read, and a training slot taken, as declared
    return await path.respond(request, BY_NAME["tune_drawings"], prepare=with_training_set)


@router.post(
    "/drawings/weights",
    response_class=Response,
    responses=ERRORS
    | TEACHER_ERRORS
    | {200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
    summary="The tuned copy as a weights file: a zip of class-copy.npz and its metadata, for CNN_WEIGHTS",
    openapi_extra=documented_body(WeightsRequest),
)
async def weights(request: Request, store: TeacherStore) -> Response:
    path: RequestPath = request.app.state.path
    return await path.respond(request, BY_NAME["drawings_weights"])
