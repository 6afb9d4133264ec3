"""The failure model: every failure carries its status (and Retry-After where waiting helps), and an
endpoint's family (Family) chooses only the shape of its error body.

The same answer serves failures on the event loop and in the worker processes, so an error reads
the same wherever the work ran. Messages never echo large input back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

import model
from model.codec import InvalidParams
from model.training.runs import InvalidRun

from .jobs import Answer
from .strict_json import dumps

log = logging.getLogger("uvicorn.error")

RETRY_AFTER_SECONDS = 1  # what a 503 asks the client to wait
ECHO_LIMIT = 40  # characters of a client's key or value that an error message may quote


class Failure(Exception):
    """A failure of the app's own: its class says its status, and Retry-After where waiting helps."""

    status = 500
    retry_after: int | None = None


class ClientMistake(Failure, ValueError):
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


class Busy(Failure):
    """Admitting this request would queue work beyond the bound: 503 with Retry-After."""

    status, retry_after = 503, RETRY_AFTER_SECONDS

    def __init__(self, why: str) -> None:
        super().__init__(f"the server is busy ({why}); try again in a moment")


class TooManyTrainers(Failure):
    """Every training slot is taken: 429 with Retry-After (the page waits and loops again)."""

    status, retry_after = 429, RETRY_AFTER_SECONDS


class ShuttingDown(Failure):
    """The request was still running when the server's shutdown grace period ended (503)."""

    status, retry_after = 503, RETRY_AFTER_SECONDS


class WorkerLost(Failure):
    """The worker process running the request stopped unexpectedly (503; it has been replaced)."""

    status, retry_after = 503, RETRY_AFTER_SECONDS
    sentence = "the worker answering this request stopped; try again"


# The failures of the layers beneath app/ (model/, pydantic, Python), which know nothing of HTTP:
# (status, Retry-After, the sentence when not the exception's own), found along the class's MRO.
BENEATH: dict[type[BaseException], tuple[int, int | None, str | None]] = {
    model.InvalidInput: (422, None, None),
    InvalidParams: (422, None, None),
    InvalidRun: (422, None, None),
    ValidationError: (422, None, None),
    MemoryError: (503, RETRY_AFTER_SECONDS, "the server is short of memory right now; try again in a moment"),
}


def status_of(exc: BaseException) -> tuple[int, int | None]:
    """The failure's status and Retry-After (None: none), as its class declares them; 500 if it declares none."""
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return status, getattr(exc, "retry_after", None)
    beneath = next((BENEATH[kind] for kind in type(exc).__mro__ if kind in BENEATH), None)
    return (500, None) if beneath is None else beneath[:2]


def detail_of(exc: BaseException, hidden: Sequence[str] = ()) -> str:
    if isinstance(exc, ValidationError):  # pydantic's errors, as one sentence
        return describe(the_chosen_form(exc.errors(include_url=False, include_input=False)), hidden)
    beneath = next((BENEATH[kind] for kind in type(exc).__mro__ if kind in BENEATH), None)
    return getattr(exc, "sentence", None) or (beneath and beneath[2]) or str(exc)


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


@dataclass(frozen=True)
class Family:
    """How a family of endpoints words a failure: the shape of its body, the location parts its
    validation messages leave out, and the statuses its protocol calls 400 (the OIP's)."""

    shape: ErrorShape = as_detail
    hidden: tuple[str, ...] = IMAGE_FORMS
    as_400: frozenset[int] = frozenset()


SERVICE = Family()  # {"detail": sentence}


def failure(e: BaseException, family: Family = SERVICE) -> Answer:
    """The answer to a failure: its status, its sentence in the family's shape, Retry-After where
    waiting helps; an unexpected one is logged and answered without its details."""
    status, retry_after = status_of(e)
    if status == 500:
        log.error("unexpected error", exc_info=e)
        return Answer(500, dumps(family.shape("internal error; it has been logged")))
    status = 400 if status in family.as_400 else status
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return Answer(status, dumps(family.shape(detail_of(e, family.hidden))), headers)
