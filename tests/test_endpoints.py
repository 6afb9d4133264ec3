"""One declaration per endpoint (each family's endpoints.py, gathered by app/registry.py) is all the
router, the request path, OpenAPI and the metrics need: an endpoint added to the table alone is served,
documented and counted."""

from __future__ import annotations

import inspect

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from app import registry
from app.api.endpoints import ENDPOINTS
from app.classes.endpoints import CLASSES
from app.config import Settings
from app.drawings.endpoints import DRAWINGS
from app.interop.endpoints import OIP
from app.main import create_app
from app.registry import BY_NAME
from app.transport.endpoints import Body, Call, Doc, Endpoint, Params, Reply, Runs
from app.transport.errors import Family
from tests.conftest import WEIGHTS


class Times(BaseModel):
    times: int = Field(1, ge=1, le=3, description="how many times over")


def backwards(body: bytes, call: Call) -> bytes:
    """The body, back to front (times over)."""
    return body[::-1] * call.params["times"]


REVERSE = Endpoint(
    name="reverse",
    method="POST",
    path="/v9/reverse",
    handler=backwards,
    request=Body("application/octet-stream", lambda job, _: job.body, {"type": "string", "format": "binary"}),
    reply=Reply(None, media_type="application/octet-stream"),
    params=Params(query=Times),
    runs=Runs("light", where="loop"),
    doc=Doc("The bytes back to front"),
    family=Family(shape=lambda sentence: {"error": sentence}),
)


@pytest.fixture
def client():  # its own app, the table patched only while it runs
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry.api, "ENDPOINTS", (*ENDPOINTS, REVERSE))
        patch.setitem(BY_NAME, REVERSE.name, REVERSE)
        with TestClient(create_app(Settings(weights=WEIGHTS, pool_workers=1))) as c:
            yield c


def test_an_endpoint_declared_once_is_served_as_declared(client):
    r = client.post("/v9/reverse?times=2", content=b"abc", headers={"content-type": "application/octet-stream"})
    assert r.status_code == 200 and r.content == b"cbacba"
    assert r.headers["content-type"] == "application/octet-stream"


def test_its_failures_come_in_its_family_s_shape(client):
    wrong = client.post("/v9/reverse", json={"a": 1})
    assert wrong.status_code == 415 and wrong.json() == {
        "error": "send the body as application/octet-stream (Content-Type: application/octet-stream), "
        "not application/json"
    }
    bad_query = client.post("/v9/reverse?times=9", content=b"x", headers={"content-type": "application/octet-stream"})
    assert bad_query.status_code == 422 and set(bad_query.json()) == {"error"}
    assert client.get("/v9/reverse").status_code == 405


def test_it_is_documented_and_counted(client):
    operation = client.get("/openapi.json").json()["paths"]["/v9/reverse"]["post"]
    assert operation["operationId"] == "reverse" and operation["summary"] == "The bytes back to front"
    assert operation["description"] == "The body, back to front (times over)."
    assert "application/octet-stream" in operation["requestBody"]["content"]
    assert "application/octet-stream" in operation["responses"]["200"]["content"]
    assert operation["x-cost"].startswith("light")
    assert [p["name"] for p in operation["parameters"]] == ["times"]
    client.post("/v9/reverse", content=b"abc", headers={"content-type": "application/octet-stream"})
    metrics = client.get("/metrics").text
    assert 'cnn_http_requests_total{route="/v9/reverse",status="200"}' in metrics


def test_every_declared_endpoint_is_routed_once():
    declared = (*ENDPOINTS, *OIP, *DRAWINGS, *CLASSES)
    paths = [(e.method, e.path) for e in declared]
    names = [e.name for e in declared]
    assert len(set(paths)) == len(paths) and len(set(names)) == len(names) == len(BY_NAME)
    assert all(callable(e.handler) for e in declared)


def test_the_protocol_s_endpoints_are_routed_and_documented_from_their_declarations(client):
    document = client.get("/openapi.json").json()["paths"]
    for e in OIP:
        operation = document[e.path][e.method.lower()]
        assert operation["operationId"] == e.name and operation["x-cost"].startswith(e.runs.cost)
    too_big = client.post("/model.onnx", content=b"{" * 70_000, headers={"content-type": "application/json"})
    assert too_big.status_code == 413 and "65,536 bytes" in too_big.json()["detail"]  # its own body_bytes
    unknown = client.post("/v2/models/other/infer", content=b"{" * 70_000, headers={"content-type": "text/plain"})
    assert unknown.status_code == 404 and set(unknown.json()) == {"error"}  # checked before the body is read


def test_the_drawings_are_routed_and_documented_from_their_declarations(client):
    document = client.get("/openapi.json").json()["paths"]
    for e in DRAWINGS:
        operation = document[e.path][e.method.lower()]
        assert operation["operationId"] == e.name and operation["x-cost"].startswith(e.runs.cost)
        assert str(e.reply.status) in operation["responses"]  # 201 for a save, 204 for a removal
    off = client.get("/drawings/summary")  # the teacher's dependency, declared: the collection is off here
    assert off.status_code == 404 and off.json() == {"detail": "Not Found"}
    assert client.delete("/drawings/0").status_code == 404  # the dependency runs before the id's type is checked


def test_the_classes_are_routed_and_documented_from_their_declarations(client):
    document = client.get("/openapi.json").json()["paths"]
    for e in CLASSES:
        operation = document[e.path][e.method.lower()]
        assert operation["operationId"] == e.name and operation["x-cost"].startswith(e.runs.cost)
        assert str(e.reply.status) in operation["responses"]
    assert client.get("/classes").status_code == 404  # the collection is off here: no classes either
    assert client.get("/classes/ABCDE/events").status_code == 404


def test_the_record_is_small_with_one_handler():
    """At most 12 fields (issue 34), one of them a function: the handler, whatever the endpoint does."""
    from dataclasses import fields

    names = [f.name for f in fields(Endpoint)]
    assert len(names) <= 12, names
    assert names == ["name", "method", "path", "handler", "request", "reply", "params", "runs", "doc", "family"]
    for endpoint in BY_NAME.values():  # each handler takes (request, call), its docstring the description
        parameters = list(inspect.signature(endpoint.handler).parameters)
        assert len(parameters) == 2 and parameters[1] == "call", endpoint.name
