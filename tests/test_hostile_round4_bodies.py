"""Issue 33, item 10: bodies and the protocol's corner cases. Each test failed on fdece45:
/drawings/weights and /drawings/tune parsed 8 MB bodies on the event loop (422 after the parse,
never 413); POST /model.onnx took unknown fields; a /v2 request naming no `outputs` always went to
the worker pool, even for one image; paths and methods under /v2 that no endpoint has answered in
the page's words ({"detail": ...}, and "Allow: GET, HEAD" for `POST .../versions/..%2f`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.interop.tensors import OUTPUTS
from app.main import create_app
from tests.answers import digit
from tests.conftest import WEIGHTS

TOKEN = "round-4-bodies-Teacher-token-0123456789"
TEACHER = {"Authorization": f"Bearer {TOKEN}"}
LIMIT = 64 * 1024  # bytes: the most /drawings/tune and /drawings/weights take


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    settings = Settings(weights=WEIGHTS, pool_workers=1, teacher_token=TOKEN, data_dir=tmp_path_factory.mktemp("r4"))
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def params(client) -> str:
    """A visitor's own parameters, as /teach answers them."""
    return str(client.post("/teach", json={"image": digit(), "label": 3, "lr": 0.1}).json()["params"])


def padded(fields: dict[str, Any], size: int) -> bytes:
    """Valid-looking JSON of `size` bytes: the fields, and one long string the parser would have to read."""
    head = "{" + ", ".join(f'"{k}": {v!r}'.replace("'", '"') for k, v in fields.items())
    return (head + ', "padding": "' + "A" * (size - len(head) - 16) + '"}').encode()


@pytest.mark.parametrize("path, fields", [("/drawings/weights", {"steps": 1}), ("/drawings/tune", {"steps": 1})])
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_tuning_bodies_past_64_kib_are_refused_before_they_are_parsed(client, path, fields, declared):
    body = padded(fields, LIMIT + 1)
    assert len(body) == LIMIT + 1
    headers = TEACHER | {"Content-Type": "application/json"}
    r = client.post(path, content=body if declared else iter([body[:40_000], body[40_000:]]), headers=headers)
    assert r.status_code == 413, r.text[:200]
    assert r.json() == {"detail": f"the request body is larger than {LIMIT:,} bytes"}


def test_the_weights_file_still_takes_a_body_within_the_limit(client, params):
    r = client.post("/drawings/weights", json={"params": params, "steps": 16, "drawings": 80}, headers=TEACHER)
    assert r.status_code == 200 and r.content[:2] == b"PK"  # a zip
    assert len(r.request.content) < LIMIT


def test_model_onnx_refuses_unknown_fields_like_every_json_endpoint(client, params):
    r = client.post("/model.onnx", json={"params": params, "opset": 9})
    assert r.status_code == 422
    assert "unknown field 'opset'" in r.json()["detail"]
    assert client.post("/model.onnx", json={"params": params}).status_code == 200


def test_a_v2_request_naming_no_outputs_answers_one_image_without_the_pool(client, monkeypatch):
    """Naming no outputs asks for all of them, the feature maps too: 45 KB of JSON for one image, as
    small as /predict's maps, which the event loop answers. It went to the pool (50 at once: 23 x 503)."""
    pool = client.app.state.path.pool
    sent: list[Any] = []
    run = pool.run

    async def counted(job: Any, *args: Any) -> Any:
        sent.append(job)
        return await run(job, *args)

    monkeypatch.setattr(pool, "run", counted)
    image = np.asarray(digit(), np.float32).ravel().tolist()
    one = {"inputs": [{"name": "image", "datatype": "FP32", "shape": [1, 28, 28], "data": image}]}
    r = client.post("/v2/models/digits/infer", json=one)
    assert r.status_code == 200
    answer = {o["name"]: o for o in r.json()["outputs"]}
    assert set(answer) == set(OUTPUTS) and answer["label"]["data"] == [7]
    assert len(answer["C1"]["data"]) == 6 * 24 * 24
    assert sent == []
    two = {"inputs": [{"name": "image", "datatype": "FP32", "shape": [2, 28, 28], "data": image * 2}]}
    assert client.post("/v2/models/digits/infer", json=two).status_code == 200
    assert len(sent) == 1  # a batch still goes to a worker


CORNERS = [  # method, path, status, Allow
    ("POST", "/v2/models/digits/versions/..%2f", 404, None),
    ("GET", "/v2/models/digits/versions/..%2f", 404, None),
    ("GET", "/v2/models/digits/versions/a%2fb/ready", 404, None),
    ("GET", "/v2/nowhere", 404, None),
    ("PUT", "/v2", 405, "GET"),
    ("POST", "/v2/health/live", 405, "GET"),
    ("DELETE", "/v2/models/digits", 405, "GET"),
    ("GET", "/v2/models/digits/infer", 405, "POST"),
    ("GET", "/v2/models/digits/versions/..%2finfer", 405, "POST"),
]


@pytest.mark.parametrize("method, path, status, allow", CORNERS, ids=[f"{m} {p}" for m, p, _, _ in CORNERS])
def test_paths_and_methods_no_v2_endpoint_has_answer_in_the_protocols_error_shape(client, method, path, status, allow):
    r = client.request(method, path)
    assert r.status_code == status
    assert r.headers.get("allow") == allow
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"error"} and len(body["error"]) > 20, body
