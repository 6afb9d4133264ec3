"""DELETE /drawings: the teacher removes many drawings at once (a flood, a lesson's mistakes).

Which drawings: a selection of ids, or every drawing saved in the last `minutes`, up to an id (the
newest the teacher was shown, so that saves arriving while the teacher confirms are not swept away
unseen). With `dry_run` nothing is deleted: the answer says how many would be, and the newest id,
which the teacher's view shows in its confirmation and then sends back as `through`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from pydantic import BaseModel, Field, model_validator

from app.transport.endpoints import Call

from .answers import collection
from .store import Store

MAX_IDS = 500  # ids in one selection: a few pages of the teacher's view
MAX_MINUTES = 7 * 24 * 60  # a week: older floods are deleted by export, then by id


class BulkQuery(BaseModel):
    ids: str | None = Field(
        None,
        pattern=rf"^[0-9]{{1,18}}(,[0-9]{{1,18}}){{0,{MAX_IDS - 1}}}$",
        description=f"the drawings to delete, comma-separated ids (at most {MAX_IDS})",
    )
    minutes: int | None = Field(None, ge=1, le=MAX_MINUTES, description="every drawing saved in the last minutes")
    through: int | None = Field(
        None, ge=1, le=2**62, description="with `minutes`: only drawings up to this id (a dry run's `through`)"
    )
    dry_run: bool = Field(False, description="delete nothing: say how many would be deleted")

    @model_validator(mode="after")
    def _one_choice(self) -> BulkQuery:
        if (self.ids is None) == (self.minutes is None):
            raise ValueError("name the drawings to delete: either ids=1,2,3 or minutes=N")
        if self.through is not None and self.minutes is None:
            raise ValueError("through goes with minutes, not with ids")
        return self


class BulkDeleted(BaseModel):
    matched: int = Field(description="drawings that match now")
    deleted: int = Field(description="drawings deleted (0 on a dry run)")
    through: int | None = Field(description="the newest matching id; null when none match")


def cutoff(minutes: int) -> str:
    """created_at of `minutes` ago, as the store writes it (ISO 8601 UTC with milliseconds and Z),
    so that text order is time order."""
    then = datetime.now(UTC) - timedelta(minutes=minutes)
    return then.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def condition(query: BulkQuery) -> tuple[str, list[Any]]:
    if query.ids is not None:
        ids = sorted({int(i) for i in query.ids.split(",")})
        return f"id IN ({', '.join('?' * len(ids))})", list(ids)
    args: list[Any] = [cutoff(query.minutes or 0)]
    if query.through is None:
        return "created_at >= ?", args
    return "created_at >= ? AND id <= ?", [*args, query.through]


def delete_many(store: Store, query: BulkQuery) -> BulkDeleted:
    """One transaction: what matches, then (unless a dry run) its deletion."""
    where, args = condition(query)
    sql = store.db.sql
    with store.db.transaction(write=not query.dry_run) as conn:
        matched, newest = conn.execute(sql(f"SELECT count(*), max(id) FROM drawings WHERE {where}"), args).fetchone()
        deleted = 0
        if not query.dry_run and matched:
            deleted = conn.execute(sql(f"DELETE FROM drawings WHERE {where}"), args).rowcount
    return BulkDeleted(matched=int(matched), deleted=int(deleted), through=None if newest is None else int(newest))


async def delete_drawings(request: Request, call: Call) -> BulkDeleted:
    query: BulkQuery = call.params["query"]
    result: BulkDeleted = await asyncio.to_thread(delete_many, collection(request).store, query)
    return result
