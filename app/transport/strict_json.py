"""Every answer's JSON is strict JSON (RFC 8259), which has no NaN and no Infinity.

A browser's JSON.parse refuses `Infinity`, so one number the network could not state would make a
whole answer unreadable. The handlers compute what can be computed finitely so that it is finite
(a loss from the scores S, never from a probability that rounded to 0: model/layers.py); whatever is
still not finite is written `null`, as the API's description says, never as a bare NaN or Infinity.
Every answer goes through `dumps`: the request path's (request_path.py, errors.py) and FastAPI's own
(StrictJSONResponse, the application's default response class).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic_core import to_json


def dumps(content: Any) -> bytes:
    """content as strict JSON: a float that is not finite becomes null."""
    return to_json(content, inf_nan_mode="null")


class StrictJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content)
