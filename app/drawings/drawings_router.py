"""The class's drawings over HTTP: their router, made from their declarations (endpoints.py,
DRAWINGS), with the collection's lifespan; included once by app/main.py.

    POST   /drawings           save a drawing (anyone, from this site's page; rate-limited)
    GET    /drawings           the teacher's list, newest first, a page at a time
    GET    /drawings/summary   counts per digit, the network's accuracy, its confusion matrix
    GET    /drawings/export    the collection as npz or as MNIST's IDX files, streamed
    DELETE /drawings/{id}      remove one
    DELETE /drawings           remove many: ?ids=1,2,3 or ?minutes=N (bulk.py; dry_run=true counts them)
    POST   /drawings/tune      fine-tune a copy of the served network on them (tuning.py)
    POST   /drawings/weights   the tuned copy as a weights file

All of them answer 404 unless CNN_TEACHER_TOKEN is set: without a teacher, nothing is collected.
Database work runs in threads (the store's writer, asyncio.to_thread), never on the event loop (answers.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from app.config import Settings
from app.transport.routing import make_router

from .answers import Collection
from .database import Database, describe_url
from .endpoints import DRAWINGS
from .guard import Buckets, Guesses, RateLimit, networks
from .store import Store

log = logging.getLogger("uvicorn.error")


class DrawingsUnavailable(RuntimeError):
    """The collection is on (CNN_TEACHER_TOKEN) but its database cannot be opened: the service does not start."""


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
    # With several server processes (CNN_WORKERS) the buckets are one file in the directory they share.
    buckets = Buckets(settings.metrics_dir / "limits.bin" if settings.metrics_dir is not None else None)
    rate = RateLimit(settings.drawings_per_minute, settings.drawings_per_minute_total, buckets)
    app.state.drawings = Collection(settings, store, rate, Guesses(buckets), networks(settings.trusted_proxies))
    log.info("drawings: %s %s, schema version %d", db.dialect, describe_url(db.target), version)
    try:
        yield
    finally:
        await asyncio.to_thread(store.close)
        buckets.close()


router = make_router(DRAWINGS, APIRouter(lifespan=lifespan))
