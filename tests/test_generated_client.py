"""A client generated from the live /openapi.json works: openapi-python-client (a widely used
generator) builds a package from the service's own document, and that package calls every endpoint,
the file upload included, and gets the answers the service gives a plain HTTP call.

Each JSON endpoint is called with its request schema's own example, so a new endpoint is covered
as soon as it is documented; the test fails if one is not.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from model import CNN
from model.codec import encode_params
from tests.conftest import WEIGHTS
from tests.test_api import png_bytes

GENERATOR = Path(sys.executable).parent / "openapi-python-client"  # installed beside this Python by the test extra


TEACHER = {"Authorization": "Bearer generated-client"}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    token = TEACHER["Authorization"].removeprefix("Bearer ")
    data = tmp_path_factory.mktemp("drawings")
    with TestClient(create_app(Settings(weights=WEIGHTS, pool_workers=1, teacher_token=token, data_dir=data))) as c:
        yield c


@pytest.fixture(scope="module")
def document(service):
    return service.get("/openapi.json").json()


@pytest.fixture(scope="module")
def generated(service, document, tmp_path_factory):
    """The package openapi-python-client makes of the live document, imported, as `cnn_client`."""
    where = tmp_path_factory.mktemp("generated")
    (where / "openapi.json").write_text(json.dumps(document))
    (where / "config.yaml").write_text("package_name_override: cnn_client\npost_hooks: []\n")
    run = subprocess.run(
        [str(GENERATOR), "generate", "--path", "openapi.json", "--output-path", "cnn_client"]
        + ["--config", "config.yaml", "--meta", "none"],
        cwd=where,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr
    sys.path.insert(0, str(where))
    try:
        client = importlib.import_module("cnn_client").Client(base_url=str(service.base_url))
        client.set_httpx_client(service)  # the generated code's requests go to the app under test
        yield SimpleNamespace(
            models=importlib.import_module("cnn_client.models"),
            types=importlib.import_module("cnn_client.types"),
            client=client,
        )
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m == "cnn_client" or m.startswith("cnn_client.")]:
            del sys.modules[name]


def operations(document: dict) -> list[tuple[str, str, dict]]:
    return [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def call(generated, operation_id: str, **kwargs):
    module = importlib.import_module(f"cnn_client.api.default.{operation_id}")
    return module.sync_detailed(client=generated.client, **kwargs)


V2_GETS = [  # OIP v2's GETs: operationId, path
    ("v2_server_metadata", "/v2"),
    ("v2_live", "/v2/health/live"),
    ("v2_ready", "/v2/health/ready"),
    ("v2_model_metadata", "/v2/models/{model_name}"),
    ("v2_model_version_metadata", "/v2/models/{model_name}/versions/{model_version}"),
    ("v2_model_ready", "/v2/models/{model_name}/ready"),
    ("v2_model_version_ready", "/v2/models/{model_name}/versions/{model_version}/ready"),
]


@pytest.fixture(scope="module")
def path_values(service) -> dict[str, str]:
    return {"model_name": "digits", "model_version": service.get("/v2/models/digits").json()["versions"][0]}


def test_every_documented_operation_is_called_below(document):
    called = {"predict_image", "model_info", "kernels", "healthz", "onnx_download"}  # the upload and the GETs, by hand
    called |= {operation for operation, _ in V2_GETS}
    called |= {
        "list_drawings",
        "summary",
        "export",
        "delete_drawing",
        "delete_drawings",
    }  # the teacher's, with the token
    json_bodies = {
        op["operationId"] for _, _, op in operations(document) if "application/json" in str(op.get("requestBody"))
    }
    assert {op["operationId"] for _, _, op in operations(document)} == called | json_bodies


def test_each_json_endpoint_answers_the_generated_client_as_it_answers_http(service, document, generated, path_values):
    package = generated
    for path, method, op in operations(document):
        ref = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
        if ref is None or op["operationId"] in ("tune", "weights", "onnx_of_params"):  # need drawings, or files
            continue
        name = ref.rsplit("/", 1)[1]
        example = document["components"]["schemas"][name]["examples"][0]
        body = getattr(package.models, name).from_dict(example)  # the generated class, from the example
        in_path = {p["name"]: path_values[p["name"]] for p in op.get("parameters", []) if p["in"] == "path"}
        answer = call(generated, op["operationId"], body=body, **in_path)
        direct = service.request(method.upper(), path.format(**in_path), json=example)
        status = 201 if op["operationId"] == "save_drawing" else 200
        assert answer.status_code == direct.status_code == status, (path, answer.content[:300])
        new = {"id"} if status == 201 else set()  # a save is a new drawing, with its own id
        assert without(json.loads(answer.content), new) == without(direct.json(), new), path  # the same request
        if answer.parsed is not None and hasattr(answer.parsed, "to_dict"):  # and the answer read back
            assert without(answer.parsed.to_dict(), new) == without(direct.json(), new), path


def without(content: dict, keys: set[str]) -> dict:
    return {k: v for k, v in content.items() if k not in keys}


def test_the_teachers_endpoints_with_the_token(service, generated):
    service.headers.update(TEACHER)  # the generated code sends its requests through this client
    try:
        saved = service.post("/drawings", json={"image": [[0.0] * 28] * 27 + [[1.0] * 28], "label": 4}).json()
        page = call(generated, "list_drawings", digit=4)
        assert (
            page.status_code == 200
            and page.parsed.to_dict() == service.get("/drawings", params={"digit": 4}, headers=TEACHER).json()
        )
        summary = call(generated, "summary")
        assert summary.parsed.to_dict() == service.get("/drawings/summary", headers=TEACHER).json()
        assert call(generated, "export").content == service.get("/drawings/export", headers=TEACHER).content
        for _ in range(5):
            service.post("/drawings", json={"image": [[0.0] * 28] * 27 + [[1.0] * 28], "label": 4})
        body = generated.models.TuneRequest.from_dict({"seed": 0, "steps": 1})
        tuned = call(generated, "tune", body=body)
        assert (
            tuned.status_code == 200
            and tuned.parsed.to_dict() == service.post("/drawings/tune", json={"seed": 0, "steps": 1}).json()
        )
        body = generated.models.WeightsRequest.from_dict({"params": tuned.parsed.params})
        assert call(generated, "weights", body=body).status_code == 200
        assert call(generated, "delete_drawing", drawing_id=saved["id"]).status_code == 204
        preview = call(generated, "delete_drawings", minutes=5, dry_run=True)
        direct = service.delete("/drawings", params={"minutes": 5, "dry_run": "true"}).json()
        assert preview.status_code == 200 and preview.parsed.to_dict() == direct and direct["matched"] >= 5
    finally:
        del service.headers["Authorization"]


def test_the_upload_is_sent_as_a_file_and_read(service, generated, mnist):
    package = generated
    digit, label = mnist.test.images[0], int(mnist.test.labels[0])
    picture = png_bytes(255 - digit)  # dark ink on white paper, as a scan would be
    body = package.models.PredictImageBody(file=package.types.File(payload=picture, file_name="digit.png"))
    answer = call(generated, "predict_image", body=body, feature_maps=True)
    direct = service.post(
        "/predict/image", params={"feature_maps": True}, files={"file": ("digit.png", picture, "image/png")}
    )
    assert answer.status_code == direct.status_code == 200, answer.content[:300]
    assert answer.parsed.label == direct.json()["label"] == label
    assert np.allclose(answer.parsed.probabilities, direct.json()["probabilities"])
    assert answer.parsed.to_dict() == direct.json()


def test_the_gets_and_a_mistake(service, generated):
    package = generated
    health = call(generated, "healthz")
    assert health.status_code == 200 and health.parsed.to_dict() == service.get("/healthz").json()
    info = call(generated, "model_info")
    assert info.parsed.to_dict() == service.get("/model").json()
    kernels = call(generated, "kernels")
    assert kernels.parsed.to_dict() == service.get("/model/kernels").json()
    bad = call(generated, "predict", body=package.models.PredictRequest.from_dict({"image": [[2.0]]}))
    assert bad.status_code == 422 and "must be 28 rows of 28 numbers" in bad.parsed.detail  # the words, typed


def test_the_protocols_gets_and_the_onnx_files(service, generated, path_values):
    for operation, path in V2_GETS:
        in_path = {name: value for name, value in path_values.items() if "{" + name + "}" in path}
        answer = call(generated, operation, **in_path)
        assert answer.status_code == 200 and answer.parsed.to_dict() == service.get(path.format(**in_path)).json()
    assert call(generated, "onnx_download").content == service.get("/model.onnx").content
    params = encode_params(CNN.random(seed=3).params)
    answer = call(generated, "onnx_of_params", body=generated.models.OnnxRequest(params=params))
    assert answer.status_code == 200 and answer.content == service.post("/model.onnx", json={"params": params}).content
