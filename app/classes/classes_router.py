"""The classes' router, made from their declarations (endpoints.py, CLASSES), with its lifespan
(after the drawings', whose database it shares), and the phone's page at /c/{code}; included once by
app/main.py.

    POST   /classes                   open a class (the teacher's)
    GET    /classes                   every class, with counts (the teacher's)
    PATCH  /classes/{code}            pause, close, open, rename (the teacher's)
    DELETE /classes/{code}            the class and its drawings (the teacher's)
    GET    /classes/{code}            name, state, network: what a phone needs (anyone's)
    GET    /classes/{code}/qr.svg     the join address as a QR code (anyone's)
    GET    /classes/{code}/events     the live board, Server-Sent Events (anyone's; drawings for the teacher)
    PUT    /classes/{code}/network    give the tuned copy to the class (the teacher's)
    GET    /classes/{code}/network    the class's network (anyone's)
    DELETE /classes/{code}/network    take it back (the teacher's)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse

from app.config import Settings
from app.drawings.answers import Collection
from app.transport.routing import make_router

from . import hooks
from .answers import ClassRoom, known
from .endpoints import CLASSES
from .events import Broker
from .hooks import CodeGuesses, UnknownClass
from .store import Classes


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    drawings: Collection | None = getattr(app.state, "drawings", None)
    app.state.classes = None
    app.state.class_hooks = hooks  # what the drawings ask of the classes (app/drawings/answers.py's ClassHooks)
    if drawings is None:  # no teacher, no collection: no classes either (every endpoint 404)
        yield
        return
    db = drawings.store.db
    broker = Broker(db)
    broker.listen()
    app.state.classes = ClassRoom(settings, Classes(db), broker, CodeGuesses(drawings.rate.buckets))
    try:
        yield
    finally:
        broker.close()
        await asyncio.to_thread(broker.join)


router = make_router(CLASSES, APIRouter(lifespan=lifespan))


@router.get("/c/{code}", include_in_schema=False)
async def class_page(request: Request, code: str) -> FileResponse:
    """The page phones open: the drawing page, saving into the class. An unknown code spends a guess and
    gets the same page with 404, which says there is no such class (a phone shows no JSON)."""
    status = 200
    try:
        await known(request, code)
    except UnknownClass:
        status = 404
    except HTTPException as e:  # the collection is off
        if e.status_code != 404:
            raise
        status = 404
    settings: Settings = request.app.state.settings
    page = settings.static_dir / "class.html"
    return FileResponse(page, status_code=status, headers={"Cache-Control": "no-store"})
