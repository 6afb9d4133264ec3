"""The classes' endpoints' steps (declared in app/api/endpoints.py, CLASSES): async on the event loop,
their database work in threads, their bodies read by the request path as declared (a small JSON body,
validated on the loop by `body`).

The teacher's: POST/GET /classes, PATCH/DELETE /classes/{code}, PUT/DELETE /classes/{code}/network.
Anyone's: GET /classes/{code}, its QR code, its network and its events; an unknown code costs the
asking address one of codes.GUESSES_PER_MINUTE tokens (429 past them), so codes cannot be enumerated.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from app.drawings.guard import Unauthorized, check_token
from app.transport.endpoints import Call
from app.transport.error_docs import ErrorResponse
from app.transport.jobs import Job, as_response
from model.codec import decode_params

from . import codes, qr
from .events import Event, frames, parse_last_event_id
from .hooks import ClassRoom, address, room, unknown
from .join import join_urls
from .models import (
    ClassInfo,
    ClassList,
    ClassNetwork,
    PublicClass,
    PublishRequest,
    network_info,
)
from .store import ClassRow


def is_teacher(request: Request, found: ClassRoom) -> bool:
    try:
        check_token(request.headers.get("authorization"), found.settings.teacher_token)
    except Unauthorized:
        return False
    return True


async def known(request: Request, text: str) -> tuple[ClassRoom, ClassRow]:
    found = room(request)
    code = codes.normal(text)
    row = None if code is None else await asyncio.to_thread(found.classes.get, code)
    if row is None:
        raise unknown(request, found, text)
    return found, row


def info(request: Request, found: ClassRoom, row: ClassRow) -> ClassInfo:
    scheme = request.url.scheme
    urls = join_urls(row.code, found.settings.public_url, scheme, request.headers.get("host"))
    return ClassInfo(
        code=row.code, name=row.name, state=row.state, join_url=urls[0], join_urls=urls, created_at=row.created_at,
        drawings=row.drawings, network=network_info(row),
    )  # fmt: skip


async def read_body(request: Request, endpoint: str) -> Any:
    """The endpoint's body as its declaration reads it (a model, validated), or the Response to its failure."""
    read = await request.app.state.path.outcome(request, endpoint)
    return as_response(read) if read.status != 200 else read.value


# -- the teacher's -------------------------------------------------------------------------------------
async def create_class(request: Request, call: Call) -> Response:
    """A class, open at once: its code, and the address phones open to join it."""
    found = room(request)
    req = await read_body(request, "create_class")
    if isinstance(req, Response):
        return req
    row = await asyncio.to_thread(found.classes.create, req.name)
    answer = info(request, found, row).model_dump(mode="json")
    return JSONResponse(answer, 201)


async def list_classes(request: Request, call: Call) -> ClassList:
    """Every class, newest first, with its drawings counted."""
    found = room(request)
    rows = await asyncio.to_thread(found.classes.all)
    return ClassList(classes=[info(request, found, r) for r in rows])


async def change_class(request: Request, call: Call) -> Response:
    """Pause saving (paused), end it (closed), open it again, or rename it: the phones and the board hear at once."""
    code: str = call.params["code"]
    found, row = await known(request, code)
    req = await read_body(request, "change_class")
    if isinstance(req, Response):
        return req
    after = await asyncio.to_thread(found.classes.update, row.code, req.state, req.name)
    if after is None:
        raise HTTPException(404, f"there is no class {code!r}")
    found.broker.poke()
    return JSONResponse(info(request, found, after).model_dump(mode="json"))


async def delete_class(request: Request, call: Call) -> Response:
    """The class and every drawing saved into it (export them first: GET /drawings/export?class=...)."""
    code: str = call.params["code"]
    found, row = await known(request, code)
    if await asyncio.to_thread(found.classes.delete, row.code) is None:
        raise HTTPException(404, f"there is no class {code!r}")
    found.broker.poke()
    return Response(status_code=204)


async def publish_network(request: Request, call: Call) -> Response:
    """Give the tuned copy to the class: every phone on the class's page switches to it."""
    code: str = call.params["code"]
    found, row = await known(request, code)
    req = await read_body(request, "publish_network")
    if isinstance(req, Response):
        return req
    fitted = None if req.calibration is None else req.calibration.model_dump(mode="json")
    after = await asyncio.to_thread(found.classes.publish, row.code, req.params, req.drawings, fitted)
    if after is None:
        raise HTTPException(404, f"there is no class {code!r}")
    found.broker.poke()
    return JSONResponse(network_info(after).model_dump(mode="json"))  # type: ignore[union-attr]


async def take_back_network(request: Request, call: Call) -> Response:
    """The phones go back to the shared network."""
    code: str = call.params["code"]
    found, row = await known(request, code)
    if not await asyncio.to_thread(found.classes.take_back, row.code):
        raise HTTPException(404, "this class has no network of its own")
    found.broker.poke()
    return Response(status_code=204)


# -- anyone's -------------------------------------------------------------------------------------------
async def public_class(request: Request, call: Call) -> PublicClass:
    """What a phone needs to join: the name, whether saving is open, and the class's network if published.
    Never a drawing."""
    code: str = call.params["code"]
    _, row = await known(request, code)
    return PublicClass(code=row.code, name=row.name, state=row.state, network=network_info(row))


async def class_network(request: Request, call: Call) -> ClassNetwork:
    """The class's own network, as /predict's `params` take it."""
    code: str = call.params["code"]
    found, row = await known(request, code)
    got = await asyncio.to_thread(found.classes.network, row.code)
    if got is None or got[1] is None:
        raise HTTPException(404, "this class has no network of its own yet")
    row, params, fitted = got
    meta = row.network() or {}
    return ClassNetwork.model_validate({"params": params, "calibration": fitted, **meta})


async def class_qr(request: Request, call: Call) -> Response:
    """The join address as a QR code (SVG), for the classroom's screen."""
    code: str = call.params["code"]
    found, row = await known(request, code)
    url = info(request, found, row).join_url
    svg = await asyncio.to_thread(qr.svg, url)  # a few milliseconds of pure Python
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


async def class_events(request: Request, call: Call) -> Response:
    """Server-Sent Events: `state` and `network` for everyone; with the teacher's token also `drawing`
    (id, digit meant, answer, probability, the 28x28 pixels as base64) and `deletion`. Reconnecting with
    Last-Event-ID sends what was missed. A `hello` event first says the class's state now."""
    code: str = call.params["code"]
    found, row = await known(request, code)
    teacher = is_teacher(request, found)
    last = parse_last_event_id(request.headers.get("last-event-id"))
    cursors = last if last is not None else await asyncio.to_thread(found.broker.log.heads)
    stream = found.broker.admit(row.code, address(request), teacher, cursors)
    try:
        first: list[Event] = []
        reset = False
        if last is not None:
            first, reset = await asyncio.to_thread(found.broker.log.replay, row.code, *last, teacher)
        hello = {"state": row.state, "name": row.name, "network": row.network(), "teacher": teacher}
        first.insert(0, Event("hello", row.code, hello))
    except BaseException:
        found.broker.leave(stream)
        raise
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        frames(found.broker, stream, first, reset), media_type="text/event-stream", headers=headers
    )


def teacher_only(request: Request) -> None:
    """The teacher's class endpoints: 404 while the collection is off, 401 without the token."""
    found = room(request)
    if not is_teacher(request, found):
        raise HTTPException(401, "send the teacher's token as Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no token, or not the teacher's"},
    404: {"model": ErrorResponse, "description": "no such class (or the collection is off)"},
    422: {"model": ErrorResponse, "description": "the body or a header is malformed"},
    429: {"model": ErrorResponse, "description": "too many unknown codes from this address"},
    503: {"model": ErrorResponse, "description": "the database is unavailable, or too many streams are open"},
}


def checked_network(job: Job, call: Call) -> PublishRequest:
    """The class's network: parameters that decode to a network of the article's shapes, finite and within bounds."""
    req = PublishRequest.model_validate_json(job.body)
    decode_params(req.params)
    return req
