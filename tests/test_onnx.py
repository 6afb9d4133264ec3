"""The network as ONNX: standard operators, accepted by onnx.checker, and run by ONNX Runtime to
the service's own answers, on the 10,000 MNIST test digits and on a visitor's copy."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from fastapi.testclient import TestClient

import model
from app.config import Settings
from app.main import create_app
from model.codec import encode_params
from tests.conftest import ROOT, WEIGHTS

AGREE = 1e-5
STANDARD_OPS = {"Unsqueeze", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Div", "Softmax"}
BATCH = 250  # images per /predict/batch call


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Settings(weights=WEIGHTS, max_batch=BATCH))) as c:
        yield c


def session(data: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def test_the_served_network_downloads_as_a_valid_onnx_model(client):
    r = client.get("/model.onnx")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == 'attachment; filename="digits.onnx"'
    m = onnx.load_from_string(r.content)
    onnx.checker.check_model(m, full_check=True)
    assert m.opset_import[0].version >= 17
    assert {n.op_type for n in m.graph.node} <= STANDARD_OPS
    assert [i.name for i in m.graph.input] == ["image"]
    assert [d.dim_value or d.dim_param for d in m.graph.input[0].type.tensor_type.shape.dim] == ["N", 28, 28]
    assert [o.name for o in m.graph.output] == ["probabilities", "scores"]


def test_onnx_runtime_agrees_with_predict_on_the_10000_test_digits(client, mnist):
    images = mnist.test.images / 255
    probabilities, _ = session(client.get("/model.onnx").content).run(None, {"image": images.astype(np.float32)})
    served = np.concatenate(
        [
            [
                p["probabilities"]
                for p in client.post("/predict/batch", json={"images": chunk.tolist()}).json()["predictions"]
            ]
            for chunk in np.split(images, len(images) // BATCH)
        ]
    )
    assert np.abs(probabilities - served).max() < AGREE
    for i in range(0, len(images), 500):  # and /predict itself, one image at a time
        one = client.post("/predict", json={"image": images[i].tolist()}).json()["probabilities"]
        assert np.abs(probabilities[i] - one).max() < AGREE
    assert (probabilities.argmax(axis=1) == mnist.test.labels).mean() > 0.95


def test_a_visitors_network_exports_as_it_answers(client, rng):
    net = model.CNN.random(seed=29)
    params = encode_params(net.params)
    r = client.post("/model.onnx", json={"params": params})
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream", r.text
    assert r.headers["content-disposition"] == 'attachment; filename="digits.onnx"'
    image = rng.random((28, 28))
    probabilities, scores = session(r.content).run(None, {"image": image[None].astype(np.float32)})
    answer = client.post("/predict", json={"image": image.tolist(), "params": params}).json()
    assert np.abs(probabilities[0] - answer["probabilities"]).max() < AGREE
    assert np.allclose(scores, net.scores(image), atol=AGREE)


@pytest.mark.parametrize(
    "body, headers, status",
    [
        ('{"params": "AAAA"}', {"Content-Type": "application/json"}, 422),
        ("{", {"Content-Type": "application/json"}, 422),
        ('{"params": "' + "A" * 100_000 + '"}', {"Content-Type": "application/json"}, 413),
        ('{"params": ""}', {"Content-Type": "text/plain"}, 415),
    ],
    ids=["short params", "not JSON", "too large", "not JSON's media type"],
)
def test_a_bad_export_request_is_refused_in_words(client, body, headers, status):
    r = client.post("/model.onnx", content=body, headers=headers)
    assert r.status_code == status and r.json()["detail"], r.text


def test_the_command_exports_any_saved_network(tmp_path):
    weights = model.CNN.random(seed=30).save(tmp_path / "net", {"test_accuracy": 0.1})
    out = tmp_path / "net.onnx"
    subprocess.run([sys.executable, "-m", "model.onnx_export", str(weights), "-o", str(out)], cwd=ROOT, check=True)
    x = np.random.default_rng(0).random((5, 28, 28)).astype(np.float32)
    probabilities, _ = session(out.read_bytes()).run(None, {"image": x})
    assert np.abs(probabilities - model.load(weights).predict_proba(x)).max() < AGREE
