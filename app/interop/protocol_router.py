"""The router of the endpoints that speak others' standards: the Open Inference Protocol v2 under
/v2, and the network as ONNX at /model.onnx. They are declared in endpoints.py (OIP) and
answered by the request path as every other endpoint; the work is app/interop/serving.py's.

Every other path or method under /v2 is answered here too, in the protocol's words ({"error": ...}):
left to the page's files, `POST /v2/models/digits/versions/..%2f` got their 405 "Allow: GET, HEAD"
as {"detail": ...}, which a protocol client cannot read.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic_core import to_json
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from app.transport.routing import make_router

from .endpoints import OIP

OWN_PATHS = ("/v2", "/model.onnx")
PROTOCOL = "/v2"


class OwnPaths(APIRouter):
    """A router that looks at a request only when its path is one of ours. Included before the API's
    own router, it costs the API's requests one string comparison, and spares the protocol's
    requests a route match against each of the API's endpoints first."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not str(scope.get("path", "")).startswith(OWN_PATHS):
            return Match.NONE, {}
        return super().matches(scope)


router = make_router(OIP, OwnPaths(), direct=True)
PROTOCOL_ROUTES = [r for r in router.routes if isinstance(r, Route) and r.path.startswith(PROTOCOL)]


class Elsewhere:
    """The answer to a path under /v2 that no endpoint has (404), or to a method it does not take
    (405, with Allow), as the protocol words its errors."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = str(scope["path"]), str(scope["method"])
        allowed = sorted({m for r in PROTOCOL_ROUTES if r.path_regex.match(path) for m in r.methods or ()})
        if allowed:
            sentence = f"{path[:80]} takes {' or '.join(allowed)}, not {method[:16]}"
            answer = Response(to_json({"error": sentence}), 405, {"Allow": ", ".join(allowed)}, "application/json")
        else:
            sentence = (
                f"the inference protocol has no {path[:80]!r}; this server answers GET /v2, /v2/health/live, "
                "/v2/health/ready, /v2/models/digits[/versions/<version>][/ready] and "
                "POST /v2/models/digits[/versions/<version>]/infer"
            )
            answer = Response(to_json({"error": sentence}), 404, media_type="application/json")
        await answer(scope, receive, send)


# Last, and for any method: the protocol's own routes match first; what is left under /v2 is answered here.
for elsewhere in (PROTOCOL, PROTOCOL + "/{rest:path}"):
    router.routes.append(Route(elsewhere, Elsewhere(), methods=None, name="v2_elsewhere", include_in_schema=False))
