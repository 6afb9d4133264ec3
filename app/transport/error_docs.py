"""What every endpoint that reads a body may answer, for the OpenAPI document: read by the router
(app/transport/routing.py) and by the families that document their own errors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ErrorResponse(BaseModel):  # the service's own error body (errors.as_detail); no docstring: the document's
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"detail": "image must be 28 rows of 28 numbers, got 27 rows of 28"}]}
    )

    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    408: {"model": ErrorResponse, "description": "the body did not arrive in time"},
    413: {"model": ErrorResponse, "description": "the request, image or batch is too large"},
    415: {
        "model": ErrorResponse,
        "description": "the body is not of the endpoint's media type, or the file not a supported image format",
    },
    422: {"model": ErrorResponse, "description": "the input is malformed, out of range or blank"},
    503: {
        "model": ErrorResponse,
        "description": "the server is busy: try again after Retry-After seconds",
        "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
    },
}
