"""The endpoint record: what an endpoint is (for the router and OpenAPI), how it is answered (for the
request path and the workers), and what it may cost. Each feature package declares its own beside its
handlers (its endpoints.py); app/registry.py gathers them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel

from app.config import Settings

from .errors import SERVICE, Family, failure
from .facts import Facts
from .jobs import Answer, Job

INLINE_BYTES = 32 * 1024  # a /predict body up to this size is answered on the event loop


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler may use besides its request."""

    classifier: Any  # the served network (app/api/service.py's Classifier)
    settings: Settings
    facts: Facts  # for the metrics: the time of each stage, the digits read, what the input looked like
    on_loop: bool  # on the event loop: raise NeedsWorker for work the loop may not do
    params: dict[str, Any]  # its parameters as validated: the query's and the path's (a step's: by name)


@dataclass(frozen=True)
class Body:
    """How an endpoint's request body is read: its media type, how its bytes become the handler's
    request (in the process that answers), its OpenAPI requestBody schema, and its bounds."""

    media_type: str | None  # None: any (the handler tells its forms apart)
    read: Callable[[Job, Call], Any] | None  # None: `model` validated from the JSON, or else the Job itself
    schema: dict[str, Any]  # a JSON body's becomes a named component (routing.named_bodies)
    header: str | None = None  # a request header the handler reads too (Job.inference_header)
    max_bytes: int | None = None  # the largest body it takes; None: CNN_MAX_BODY_BYTES
    identity_only: bool = False  # a body with a Content-Encoding is refused (415), never inflated
    model: type[BaseModel] | None = None  # a JSON body's model, validated straight from its text


def json_body(model: type[BaseModel], read: Callable[[Job, Call], Any] | None = None, **bounds: Any) -> Body:
    """A JSON object validated as `model` straight from its text (pydantic's parser, one pass), or
    read by `read` (which validates it itself) into what the handler takes."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return Body("application/json", read, schema, model=None if read else model, **bounds)


def the_job(
    media_type: str | None, header: str | None = None, max_bytes: int | None = None, identity_only: bool = False
) -> Body:
    """The Job itself as the handler's request (its family documents the body itself)."""
    return Body(media_type, None, {}, header, max_bytes, identity_only)


Cost = Literal["memory", "database", "light", "heavy", "training", "stream"]
COSTS: dict[str, str] = {  # what each cost class means, for the OpenAPI document (x-cost)
    "memory": "answered from memory on the event loop: microseconds",
    "database": "the event loop's microseconds, and a bounded query of the database in a thread",
    "light": "a forward pass: a small body is answered on the event loop, a larger one by a worker",
    "heavy": "milliseconds to a second of one worker process's CPU, within its budget",
    "training": "up to a second of a worker's CPU, and one of a few training slots (429 when all are taken)",
    "stream": "a long-lived stream: a bounded buffer, nothing while idle; bounded per process and per address (503)",
}


@dataclass(frozen=True)
class Reply:
    """What a success answers."""

    model: type[BaseModel] | None  # the JSON answer's model; None for an answer of another media type
    status: int = 200
    media_type: str = "application/json"


@dataclass(frozen=True)
class Params:
    """What the router validates before the endpoint runs (FastAPI's), and who may call it."""

    query: type[BaseModel] | None = None  # its query parameters
    headers: type[BaseModel] | None = None  # its header parameters (a step of its own's only)
    path: dict[str, Any] = field(default_factory=dict)  # its path parameters' types; text unless said
    dependencies: tuple[Any, ...] = ()  # FastAPI's dependencies (Depends), run before it: who may call it
    check: Callable[[dict[str, Any], Any], None] | None = None  # refuses by the path alone, before the body


@dataclass(frozen=True)
class Runs:
    """Where the handler runs (a step of its own's: where its body is read) and what it may cost."""

    cost: Cost
    where: Literal["loop", "pool"] = "pool"  # the event loop or a worker process
    inline_bytes: int = 0  # runs in the pool: a body of at most this many bytes is first tried on the loop
    training_slot: Literal["visitor", "teacher"] | None = None  # takes one of the few training slots while it runs


@dataclass(frozen=True)
class Doc:
    """What the OpenAPI document says of it beyond what the rest declares."""

    summary: str
    errors: dict[int | str, dict[str, Any]] | None = None  # its failures; None: the common ones (error_docs)
    openapi: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """One endpoint: what it is (for the router and OpenAPI), how it is answered (for the request
    path and the workers), and what it may cost."""

    name: str  # the operationId, the route's name, the metrics' endpoint label, the key of a Job
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    # Its one handler, handler(request, call): a function of the body as read (request.read) that answers
    # JSON-ready content, bytes in reply.media_type or an Answer, on the loop or in a worker as `runs`
    # says; or a coroutine function, the endpoint's own step on the event loop (its database work in
    # threads), called by the router with the Request and the validated parameters (call.params), that
    # answers a Response or the reply model's content, and has its body read as declared by the request
    # path (request_path.RequestPath.outcome).
    handler: Callable[[Any, Call], Any]
    request: Body | None = None  # its body; None: it reads none (GET)
    reply: Reply
    params: Params = Params()
    runs: Runs
    doc: Doc
    family: Family = SERVICE  # how its failures are worded: the shape of the body

    @property
    def description(self) -> str:
        return inspect.cleandoc(self.handler.__doc__ or "")

    @cached_property
    def steps(self) -> bool:
        """Whether its handler is a step of its own on the event loop (a coroutine function)."""
        return inspect.iscoroutinefunction(self.handler)

    def fail(self, e: BaseException) -> Answer:
        """The answer to a failure, in the endpoint family's words."""
        return failure(e, self.family)
