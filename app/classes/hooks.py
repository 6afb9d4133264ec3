"""What the drawings' endpoints ask of the classes (app/drawings/answers.py's ClassHooks, which this
module is, put on app.state.class_hooks by classes_router.py's lifespan): whether a save may go into a class,
and telling the boards of a save or a deletion; and the classes' state on the app (ClassRoom).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import HTTPException, Request

from app.config import Settings
from app.drawings.database import DatabaseUnavailable
from app.drawings.guard import Buckets, TooFast
from app.drawings.store import NOT_OPEN, ClassNotOpen
from app.transport.errors import ClientMistake

from . import codes
from .events import Broker
from .store import Classes


@dataclass
class ClassRoom:
    """The classes while the collection is on: app.state.classes, set by classes_router.py's lifespan."""

    settings: Settings
    classes: Classes
    broker: Broker
    guesses: CodeGuesses  # unknown codes tried per client


@dataclass
class CodeGuesses:
    """Unknown class codes tried per client (the rate limits' own key, guard.identity), in the
    drawings' bucket table: shared by the server's processes, bounded in bytes."""

    buckets: Buckets

    def take(self, who: str) -> None:
        self.buckets.take("code " + who, codes.GUESSES_PER_MINUTE)


class UnknownClass(ClientMistake):
    status = 404


def room(request: Request) -> ClassRoom:
    found: ClassRoom | None = getattr(request.app.state, "classes", None)
    if found is None:
        raise HTTPException(404, "Not Found")
    return found


def address(request: Request) -> str:
    """The client as the drawings' rate limits know it: CNN_TRUSTED_PROXIES decides whether
    X-Forwarded-For is believed; an IPv6 client counts as its /64."""
    return request.app.state.drawings.who(request)


class TooManyGuesses(ClientMistake):
    status, retry_after = 429, 60  # a guess comes back within the minute


def unknown(request: Request, found: ClassRoom, text: str) -> ClientMistake:
    """An unknown code: it costs a guess (429 once they run out), else 404."""
    try:
        found.guesses.take(address(request))
    except TooFast as e:
        return TooManyGuesses(f"too many unknown class codes from this address; try again in {e.retry_after} seconds")
    return UnknownClass(f"there is no class {text[:12]!r}; check the code your teacher shows")


async def admit_save(request: Request, text: str) -> str:
    """POST /drawings with a class: the class's code if it is open; else the refusal, nothing stored."""
    found = room(request)
    code = codes.normal(text)
    try:
        state = None if code is None else await asyncio.to_thread(found.classes.state, code)
    except DatabaseUnavailable:
        raise DatabaseUnavailable(
            "the class's database cannot be reached right now; your drawing was not saved, try again in a moment"
        ) from None
    if state is None or code is None:
        raise unknown(request, found, text)
    if state != "open":
        raise ClassNotOpen(NOT_OPEN[state])
    return code


def saved_into(request: Request) -> None:
    """A drawing was saved into a class by this process: the boards hear of it now."""
    found: ClassRoom | None = getattr(request.app.state, "classes", None)
    if found is not None:
        found.broker.poke()


async def deleting(request: Request, drawing_id: int) -> str | None:
    """DELETE /drawings/{id}: the class of the drawing about to go (None if none)."""
    found: ClassRoom | None = getattr(request.app.state, "classes", None)
    return None if found is None else await asyncio.to_thread(found.classes.class_of, drawing_id)


async def deleted(request: Request, drawing_id: int, code: str) -> None:
    found = room(request)
    await asyncio.to_thread(found.classes.deleted, drawing_id, code)
    found.broker.poke()
