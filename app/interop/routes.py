"""The router of the endpoints that speak others' standards: the Open Inference Protocol v2 under
/v2, and the network as ONNX at /model.onnx. They are declared in app/api/endpoints.py (OIP) and
answered by the request path as every other endpoint; the work is app/interop/jobs.py's.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.routing import Match
from starlette.types import Scope

from app.api.endpoints import OIP
from app.api.routes import make_router

OWN_PATHS = ("/v2", "/model.onnx")


class OwnPaths(APIRouter):
    """A router that looks at a request only when its path is one of ours. Included before the API's
    own router, it costs the API's requests one string comparison, and spares the protocol's
    requests a route match against each of the API's endpoints first."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not str(scope.get("path", "")).startswith(OWN_PATHS):
            return Match.NONE, {}
        return super().matches(scope)


router = make_router(OIP, OwnPaths(), direct=True)
