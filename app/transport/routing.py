"""A family's router and its part of the OpenAPI document, made from its endpoints' declarations.

Every route hands its request to the request path (request_path.py), or to its handler where that is
a step of its own (a coroutine function); FastAPI only matches the path and the method, validates the
parameters, and documents each endpoint.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.datastructures import Default
from fastapi.responses import Response
from fastapi.routing import APIRoute

from .endpoints import COSTS, Endpoint
from .error_docs import ERRORS
from .request_path import enter
from .strict_json import StrictJSONResponse


class Direct(APIRoute):
    """A route whose endpoint is called with the request and its path's parameters as they came
    (text), and answers a Response of its own: the request path reads and checks the body itself,
    so FastAPI's parameter and response machinery is skipped (what that saves: BENCHMARKS.md, OIP).
    (FastAPI's documented extension point, "Custom Request and APIRoute class".)"""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handle(request: Request) -> Response:
            response: Response = await endpoint(request, **request.path_params)
            return response

        return handle


def route(endpoint: Endpoint) -> Any:
    """The function FastAPI calls for `endpoint` (request_path.enter, given the endpoint), with the
    signature FastAPI reads: the path's parameters, and the query's and headers' models if it has them."""
    respond = partial(enter, endpoint)
    parameters = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)]
    for name in re.findall(r"{(\w+)}", endpoint.path):
        kind = endpoint.params.path.get(name, str)
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind))
    if endpoint.params.query is not None:
        kind = Annotated[endpoint.params.query, Query()]
        parameters.append(inspect.Parameter("query", inspect.Parameter.KEYWORD_ONLY, annotation=kind))
    if endpoint.params.headers is not None:
        kind = Annotated[endpoint.params.headers, Header()]
        parameters.append(inspect.Parameter("headers", inspect.Parameter.KEYWORD_ONLY, annotation=kind))
    respond.__signature__ = inspect.Signature(parameters, return_annotation=Response)  # type: ignore[attr-defined]
    return respond


def documented(endpoint: Endpoint) -> dict[str, Any]:
    """What FastAPI cannot see of an endpoint whose body the request path reads: its requestBody
    (named_bodies then moves a JSON body's schema into the document's components), and its cost."""
    cost = endpoint.runs.cost
    extra: dict[str, Any] = {"x-cost": f"{cost}: {COSTS[cost]}"}
    if endpoint.request is not None and endpoint.request.media_type is not None:
        body = endpoint.request
        extra["requestBody"] = {"required": True, "content": {body.media_type: {"schema": body.schema}}}
    return extra | endpoint.doc.openapi


def responses(endpoint: Endpoint) -> dict[int | str, dict[str, Any]]:
    if endpoint.doc.errors is not None:  # its own
        return endpoint.doc.errors
    documented: dict[int | str, dict[str, Any]] = {}
    if endpoint.reply.model is None:  # an answer that is not JSON: its media type, as bytes
        binary = {"schema": {"type": "string", "format": "binary"}}
        documented[200] = {"description": "Successful Response", "content": {endpoint.reply.media_type: binary}}
    return documented | (ERRORS if endpoint.request is not None else {})


def make_router(endpoints: tuple[Endpoint, ...], router: APIRouter | None = None, direct: bool = False) -> APIRouter:
    """A router of a family's endpoints (with its own router, if given: app/interop/, app/drawings/).
    `direct`: their routes skip FastAPI's parameter and response machinery (Direct), for a family
    whose endpoints take no query parameters."""
    router = APIRouter() if router is None else router
    for endpoint in endpoints:
        router.add_api_route(
            endpoint.path,
            route(endpoint),
            methods=[endpoint.method],
            name=endpoint.name,
            status_code=endpoint.reply.status,
            dependencies=list(endpoint.params.dependencies),
            route_class_override=Direct if direct else None,
            response_class=Response if endpoint.reply.model is None else Default(StrictJSONResponse),
            response_model=endpoint.reply.model,
            responses=responses(endpoint),
            summary=endpoint.doc.summary,
            description=endpoint.description,
            openapi_extra=documented(endpoint),
        )
    return router


def named_bodies(document: dict[str, Any]) -> None:
    """Each JSON request body's schema as a named component ($ref), like the responses', so that a
    client generated from the document gets a PredictRequest class, not an anonymous one."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for operations in document["paths"].values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content is None or "$ref" in content["schema"]:
                continue
            schema = dict(content["schema"])
            components.update(schema.pop("$defs", {}))
            components[schema["title"]] = schema
            content["schema"] = {"$ref": f"#/components/schemas/{schema['title']}"}
