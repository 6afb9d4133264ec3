"""The request path's own endpoints, reached without FastAPI's router (profiled: BENCHMARKS.md, issue 34).

Before a route's function runs, FastAPI walks its included routers, copies the scope, consults its
telemetry and solves the route's (empty) dependencies: a profile of POST /predict under load found
that to be a larger share of the request than the network's forward pass. An endpoint that the
request path answers whole needs none of it: it has no step of its own (a coroutine handler) and nothing for
FastAPI to validate (query, header or path parameters of a type, dependencies). This middleware,
the innermost of the application's own, matches such an endpoint's method and path and hands the
request to the request path, which keeps every bound (media type, body size, bodies in flight,
answers waiting, admission). Everything else, a wrong method included, goes on to FastAPI, which
still routes and documents every endpoint. A request answered here carries its route in the scope,
as FastAPI's would, for the request log, the metrics and the error family.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from .endpoints import Endpoint


def answered_whole(endpoint: Endpoint) -> bool:
    """True when the request path alone answers the endpoint: a body, no step or check of FastAPI's."""
    params = endpoint.params
    return (
        endpoint.request is not None
        and not endpoint.steps
        and params.query is None
        and params.headers is None
        and not params.path  # its path parameters, if any, are text: as the route's pattern gives them
        and not params.dependencies
    )


class Lane:
    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute], endpoints: Mapping[str, Endpoint]) -> None:
        """`routes`: the routers' routes, the first for each path first (as FastAPI tries them);
        `endpoints`: the declarations by name, which say which of them may take the lane."""
        self.app = app
        self.exact: dict[tuple[str, str], tuple[APIRoute, Endpoint]] = {}  # (method, path) without parameters
        self.templated: list[tuple[APIRoute, Endpoint]] = []  # matched by their patterns, in order
        for route in routes:
            endpoint = endpoints.get(getattr(route, "name", ""))
            if not isinstance(route, APIRoute) or endpoint is None or not answered_whole(endpoint):
                continue
            if route.param_convertors:
                self.templated.append((route, endpoint))
            else:
                self.exact.setdefault((endpoint.method, route.path), (route, endpoint))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = self.match(scope)
            if found is not None:
                route, endpoint, params = found
                scope["route"], scope["endpoint"], scope["path_params"] = route, route.endpoint, params
                request = Request(scope, receive, send)
                response = await request.app.state.path.respond(request, endpoint, params or None)
                return await response(scope, receive, send)
        await self.app(scope, receive, send)

    def match(self, scope: Scope) -> tuple[APIRoute, Endpoint, dict[str, Any]] | None:
        method, path = scope["method"], get_route_path(scope)
        found = self.exact.get((method, path))
        if found is not None:
            return *found, {}
        for route, endpoint in self.templated:
            if endpoint.method == method and (matched := route.path_regex.match(path)) is not None:
                convert = route.param_convertors
                return route, endpoint, {k: convert[k].convert(v) for k, v in matched.groupdict().items()}
        return None
