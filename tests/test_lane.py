"""The lane (app/transport/lane.py): the request path's own endpoints reached without FastAPI's router
answer exactly what FastAPI's routes answer, and everything else still goes to FastAPI."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from app import registry
from app.transport.lane import Lane, answered_whole
from tests.conftest import ROOT


def lane_of(client) -> Lane:
    (middleware,) = [m for m in client.app.user_middleware if m.cls is Lane]
    return Lane(client.app.router, **middleware.kwargs)


def test_the_lane_takes_only_what_the_request_path_answers_whole(client):
    lane = lane_of(client)
    taken = {e.name for _, e in lane.exact.values()} | {e.name for _, e in lane.templated}
    assert {"predict", "predict_batch", "explain", "teach", "v2_infer", "v2_infer_version"} <= taken
    assert taken == {e.name for e in registry.BY_NAME.values() if answered_whole(e)}
    for endpoint in registry.BY_NAME.values():  # a step of its own, a GET, a query or a dependency: FastAPI's
        if endpoint.steps or endpoint.request is None or endpoint.params.dependencies:
            assert endpoint.name not in taken


def fastapi_alone(app) -> ASGIApp:
    """The application's router, without our middleware: what FastAPI's routes answer."""
    router = AsyncExitStackMiddleware(app.router)  # the scope's exit stack, which FastAPI's routes expect

    async def bare(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = app
        await router(scope, receive, send)

    return bare


def sample() -> list[list[float]]:
    pixels = np.array(json.loads((ROOT / "static" / "samples.json").read_text())["digits"][7]["pixels"], dtype=float)
    return (pixels / 255 if pixels.max() > 1 else pixels).tolist()


async def post(app, path: str, body: dict) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        return await c.post(path, json=body)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/predict", {"image": sample()}),
        ("/predict", {"image": np.full((28, 28), 0.5).tolist(), "feature_maps": True}),
        ("/predict", {"image": [[2.0] * 28] * 28}),  # a 422, in the same words
        ("/explain", {"image": np.eye(28).tolist(), "label": 3}),  # answered by a worker
        (
            "/v2/models/digits/infer",
            {"inputs": [{"name": "image", "shape": [1, 28, 28], "datatype": "FP32", "data": [0.25] * 784}]},
        ),
        ("/v2/models/nine/infer", {"inputs": []}),  # a model it does not serve: the protocol's 404
    ],
)
def test_the_lane_answers_what_fastapi_answers(client, path, body):
    assert lane_of(client).match({"method": "POST", "path": path}) is not None  # the first goes by the lane
    # on the client's own event loop, where the application's worker pool lives
    lane, fastapi = (client.portal.call(post, app, path, body) for app in (client.app, fastapi_alone(client.app)))
    assert lane.status_code == fastapi.status_code
    assert lane.headers["content-type"] == fastapi.headers["content-type"]
    assert lane.json() == fastapi.json()


def test_a_wrong_method_still_gets_fastapis_405(client):
    r = client.get("/predict")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    r = client.put("/v2/models/digits/infer", json={})
    assert r.status_code == 405 and "error" in r.json()


def test_a_request_through_the_lane_is_logged_and_counted_by_its_route(client):
    client.post("/predict", json={"image": np.zeros((28, 28)).tolist()})
    exposition = client.get("/metrics").text
    assert 'cnn_http_requests_total{route="/predict",status="200"}' in exposition
