"""The endpoint record: what an endpoint is (for the router and OpenAPI), how it is answered (for the
request path and the workers), and what it may cost. Each feature package declares its own beside its
handlers (its endpoints.py); app/registry.py gathers them.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from app.config import Settings

from .errors import SERVICE, Family, failure
from .facts import Facts
from .jobs import Answer, Job

INLINE_BYTES = 32 * 1024  # a /predict body up to this size is answered on the event loop


@dataclass(frozen=True)
class Body:
    """How an endpoint's request body is read: its media type, how its bytes become the handler's
    request (in the process that answers), its OpenAPI requestBody schema, and its bounds."""

    media_type: str | None  # None: any (the handler tells its forms apart)
    read: Callable[[Job, Settings], Any]
    schema: dict[str, Any]  # a JSON body's becomes a named component (routing.named_bodies)
    header: str | None = None  # a request header the handler reads too (Job.inference_header)
    max_bytes: int | None = None  # the largest body it takes; None: CNN_MAX_BODY_BYTES
    identity_only: bool = False  # a body with a Content-Encoding is refused (415), never inflated


def json_body(model: type[BaseModel]) -> Body:
    """A JSON object validated as `model` straight from its text (pydantic's parser, one pass)."""

    def read(job: Job, settings: Settings) -> Any:
        return model.model_validate_json(job.body, context={"max_drawing_side": settings.max_drawing_side})

    return Body("application/json", read, model.model_json_schema(ref_template="#/components/schemas/{model}"))


def the_job(
    media_type: str | None,
    header: str | None = None,
    model: type[BaseModel] | None = None,
    max_bytes: int | None = None,
    identity_only: bool = False,
) -> Body:
    """The Job itself as the handler's request; `model`, a JSON body's, for the document (else its
    family documents the body itself)."""
    schema = {} if model is None else json_body(model).schema
    return Body(media_type, lambda job, _: job, schema, header, max_bytes, identity_only)


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler may use besides its request."""

    classifier: Any  # the served network (app/api/service.py's Classifier)
    settings: Settings
    facts: Facts  # for the metrics: the time of each stage, the digits read, what the input looked like
    on_loop: bool  # on the event loop: raise NeedsWorker for work the loop may not do
    query: dict[str, Any]  # the query parameters, validated by the endpoint's query model


def job_handler(run: Callable[[Job, Any, Settings, bool, Facts], Any]) -> Callable[[Job, Call], Any]:
    """A handler written for the whole Job (app/drawings/, app/interop/), as a handler of the table."""

    def handler(job: Job, call: Call) -> Any:
        return run(job, call.classifier, call.settings, call.on_loop, call.facts)

    handler.__doc__ = run.__doc__
    return handler


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
    headers: type[BaseModel] | None = None  # its header parameters (serve's only)
    path: dict[str, Any] = field(default_factory=dict)  # its path parameters' types; text unless said
    dependencies: tuple[Any, ...] = ()  # FastAPI's dependencies (Depends), run before it: who may call it
    check: Callable[[dict[str, Any], Any], None] | None = None  # refuses by the path alone, before the body


@dataclass(frozen=True)
class Runs:
    """Where the handler runs and what it may cost."""

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
    handler: Callable[[Any, Call], Any] | None = None  # -> JSON-ready content, or bytes in reply.media_type
    # An async step of its own on the event loop, its database work in threads: called by the router with
    # the request, this declaration and the validated parameters, it answers (a Response, or the response
    # model's content), handing the body to the request path as declared if it has a handler.
    serve: Callable[..., Awaitable[Any]] | None = None
    request: Body | None = None  # its body; None: it reads none (GET)
    reply: Reply
    params: Params = Params()
    runs: Runs
    doc: Doc
    family: Family = SERVICE  # how its failures are worded: the shape of the body

    @property
    def description(self) -> str:
        return inspect.cleandoc((self.serve or self.handler).__doc__ or "")

    def fail(self, e: BaseException) -> Answer:
        """The answer to a failure, in the endpoint family's words."""
        return failure(e, self.family)
