"""What travels between the request path and whoever answers: a Job in, an Answer out.

Both are plain, small and picklable, so that the same job is answered on the event loop or in a
worker process (app/transport/pool.py) alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from .facts import Facts


@dataclass(frozen=True)
class Job:
    """One request, as much of it as an endpoint reads: small enough to hand to another process."""

    endpoint: str  # the name of its declaration (app/api/endpoints.py)
    body: bytes = b""
    content_type: str = "application/json"
    query: dict[str, Any] = field(default_factory=dict)  # its query parameters, validated
    inference_header: str | None = None  # OIP v2's Inference-Header-Content-Length, as sent (app/interop/)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    facts: Facts | None = None  # for the metrics: stages, digits, what the input looked like
    media_type: str = "application/json"
    value: Any = None  # the body as read, for a handler that is a step of its own (pickled only from a worker)


class NeedsWorker(Exception):
    """Raised on the event loop by a request that turns out to be more work than the loop may do."""


def as_response(answer: Answer) -> Response:
    return Response(answer.body, answer.status, headers=answer.headers, media_type=answer.media_type)
