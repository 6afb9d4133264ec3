"""Every way a request can fail, and the one place that turns a failure into a status and a body.

The same mapping serves answers computed on the event loop and in the worker processes, so an
error reads the same wherever the work ran. Messages never echo large input back. The body's
shape is the endpoint family's (app/api/endpoints.py): {"detail": sentence} unless it says otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

import model
from model.codec import InvalidParams
from model.training.recipes import InvalidRun

from .pictures.preprocessing import ImageTooLarge, InvalidImage, UnsupportedImage
from .transport.jobs import Answer
from .transport.strict_json import dumps

log = logging.getLogger("uvicorn.error")

RETRY_AFTER_SECONDS = 1  # what a 503 asks the client to wait
ECHO_LIMIT = 40  # characters of a client's key or value that an error message may quote


class ClientMistake(ValueError):
    """A request the service cannot answer as sent (422 unless a subclass says otherwise)."""

    status = 422


class TooManyImages(ClientMistake):
    """More images in one batch than the service takes."""

    status = 413


class BodyTooLarge(ClientMistake):
    status = 413


class UnsupportedMediaType(ClientMistake):
    """A JSON endpoint called without Content-Type: application/json, or an upload without multipart."""

    status = 415


class Compressed(ClientMistake):
    """A body with a Content-Encoding: the size limit is on what arrives, so nothing is inflated."""

    status = 415


class TooCostly(ClientMistake):
    """The input needs more CPU time than one request may take (a decoder's worst case, say)."""


class NotFinite(ClientMistake):
    """A computed answer holds NaN or infinity: only a visitor's own parameters can cause that."""


class Busy(Exception):
    """Admitting this request would queue work beyond the bound: 503 with Retry-After."""

    def __init__(self, why: str) -> None:
        super().__init__(f"the server is busy ({why}); try again in a moment")


class TooManyTrainers(Exception):
    """Every training slot is taken: 429 with Retry-After (the page waits and loops again)."""


class ShuttingDown(Exception):
    """The request was still running when the server's shutdown grace period ended (503)."""


class WorkerLost(Exception):
    """The worker process running the request stopped unexpectedly (503; it has been replaced)."""


def status_of(exc: BaseException) -> int:
    """Each kind of failure has one status code, decided here."""
    if isinstance(exc, ClientMistake):
        return exc.status
    if isinstance(exc, ImageTooLarge):
        return 413
    if isinstance(exc, UnsupportedImage):
        return 415
    if isinstance(exc, (InvalidImage, InvalidParams, InvalidRun, model.InvalidInput, ValidationError)):
        return 422
    if isinstance(exc, (Busy, ShuttingDown, WorkerLost, MemoryError)):
        return 503
    if isinstance(exc, TooManyTrainers):
        return 429
    return 500


def detail_of(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return describe(the_chosen_form(exc.errors(include_url=False, include_input=False)), IMAGE_FORMS)
    if isinstance(exc, MemoryError):
        return "the server is short of memory right now; try again in a moment"
    if isinstance(exc, WorkerLost):
        return "the worker answering this request stopped; try again"
    return str(exc)


# The tags of an Image's two forms (app/api/requests.py): error messages leave them out.
IMAGE_FORMS = ("rows", "encoded")


def the_chosen_form(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """An Image's errors, without those of the form the client did not use.

    Where the image is an object, its "rows" form fails with one error at its root, that it is not
    an array; where it is an array, its "encoded" form fails with one, that it is not an object.
    Where it is neither, the "rows" error stays: rows of numbers are what a person would send.
    One pass over the errors, however many a large drawing makes.
    """
    forms: dict[tuple[Any, ...], dict[Any, list[ErrorDetails]]] = {}  # where an image is -> form -> errors
    for error in errors:
        loc = tuple(error["loc"])
        at = next((i for i, part in enumerate(loc) if part in IMAGE_FORMS), None)
        if at is not None:
            forms.setdefault(loc[:at], {}).setdefault(loc[at], []).append(error)

    def only_not_a(where: tuple[Any, ...], form: str, kind: str) -> bool:
        branch = forms[where].get(form, [])
        return len(branch) == 1 and tuple(branch[0]["loc"]) == (*where, form) and branch[0]["type"] == kind

    unused = set()
    for where in forms:
        if only_not_a(where, "encoded", "model_type"):
            unused.add((*where, "encoded"))
        elif only_not_a(where, "rows", "list_type"):
            unused.add((*where, "rows"))
    return [e for e in errors if not any(tuple(e["loc"][: len(u)]) == u for u in unused)]


def headers_of(status: int) -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_SECONDS)} if status in (429, 503) else {}


def clip(text: str) -> str:
    return text if len(text) <= ECHO_LIMIT else text[:ECHO_LIMIT] + "..."


def describe(errors: Sequence[ErrorDetails | dict[str, Any]], hidden: Sequence[str] = ()) -> str:
    """Pydantic's errors as one sentence a person can act on, quoting no more than ECHO_LIMIT characters
    of anything the client sent. `hidden` names location parts that mean nothing to a client."""
    parts = []
    for error in errors[:5]:
        where = ".".join(clip(str(x)) for x in error.get("loc", ()) if x != "body" and x not in hidden)
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "json_invalid":
            message = f"the body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})"
        parts.append(f"{where}: {message}" if where else message)
    more = len(errors) - 5
    return "; ".join(parts) + (f"; and {more} more errors" if more > 0 else "")


ErrorShape = Callable[[str], Any]  # a failure's sentence -> the JSON of its answer


def as_detail(sentence: str) -> dict[str, str]:
    """The service's own error shape: {"detail": "a sentence"}."""
    return {"detail": sentence}


def failure(e: BaseException, shape: ErrorShape = as_detail) -> Answer:
    """The answer to a failure: its status, its sentence in the endpoint family's shape, Retry-After
    where waiting helps; an unexpected one is logged and answered without its details."""
    status = status_of(e)
    if status == 500:
        log.error("unexpected error", exc_info=e)
        return Answer(500, dumps(shape("internal error; it has been logged")))
    return Answer(status, dumps(shape(detail_of(e))), headers_of(status))
