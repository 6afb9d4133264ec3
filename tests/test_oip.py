"""The Open Inference Protocol v2 in process: every tensor form against the network called directly,
the Binary Tensor Data extension's layout byte for byte, and every malformed or lying request
answered with a 4xx and the protocol's {"error": ...}, never a 500."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

import model
from app.api.service import Classifier
from app.config import Settings
from app.interop.serving import VERSION_DIGITS
from app.main import create_app

MAX_BATCH = 8
MAX_BODY = 200_000
INFER = "/v2/models/digits/infer"
EXACT = 1e-6  # FP32 outputs of float64 probabilities


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("oip") / "random"
    return model.CNN.random(seed=28).save(path, {"test_accuracy": 0.1, "calibration": {"temperature": 1.5}})


@pytest.fixture(scope="module")
def clf(weights) -> Classifier:
    return Classifier.load(weights)


@pytest.fixture(scope="module")
def client(weights):
    with TestClient(create_app(Settings(weights=weights, max_body_bytes=MAX_BODY, max_batch=MAX_BATCH))) as c:
        yield c


@pytest.fixture
def images(rng) -> np.ndarray:
    return rng.random((3, 28, 28)).astype(np.float32)


def request(x: np.ndarray, shape: list[int] | None = None, datatype: str = "FP32", **extra) -> dict:
    return {
        "inputs": [{"name": "image", "shape": shape or list(x.shape), "datatype": datatype, "data": x.tolist()}]
    } | extra


def binary_body(header: dict, *blobs: bytes) -> tuple[bytes, dict[str, str]]:
    text = json.dumps(header).encode()
    return text + b"".join(blobs), {"Inference-Header-Content-Length": str(len(text))}


def outputs(r) -> dict[str, np.ndarray]:
    """The answer's tensors, JSON or binary, read as the extension lays them out."""
    length = r.headers.get("inference-header-content-length")
    head = json.loads(r.content[: int(length)] if length else r.content)
    blob, at, found = r.content[int(length) :] if length else b"", 0, {}
    for o in head["outputs"]:
        dtype = {"FP32": "<f4", "INT64": "<i8"}[o["datatype"]]
        if "data" in o:
            found[o["name"]] = np.array(o["data"], dtype=dtype).reshape(o["shape"])
        else:
            size = o["parameters"]["binary_data_size"]
            found[o["name"]] = np.frombuffer(blob[at : at + size], dtype=dtype).reshape(o["shape"])
            at += size
    assert at == len(blob)
    return found


def test_server_metadata_and_health(client):
    assert client.get("/v2").json()["extensions"] == ["binary_tensor_data"]
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}


def test_model_metadata_names_every_tensor_with_its_shape_and_the_weights_version(client, clf):
    m = client.get("/v2/models/digits").json()
    version = clf.metadata["sha256"][:VERSION_DIGITS]
    assert m["versions"] == [version] and m["name"] == "digits"
    assert m["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 28, 28]}]
    shapes = {o["name"]: o["shape"] for o in m["outputs"]}
    assert shapes == {
        "probabilities": [-1, 10],
        "scores": [-1, 10],
        "label": [-1],
        "C1": [-1, 6, 24, 24],
        "P1": [-1, 6, 12, 12],
        "C2": [-1, 12, 8, 8],
        "P2": [-1, 12, 4, 4],
    }
    assert client.get(f"/v2/models/digits/versions/{version}").json() == m
    assert client.get("/v2/models/digits/ready").json() == {"name": "digits", "ready": True}
    assert client.get(f"/v2/models/digits/versions/{version}/ready").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/v2/models/mnist",
        "/v2/models/mnist/ready",
        "/v2/models/digits/versions/1",
        "/v2/models/digits/versions/1/ready",
    ],
)
def test_an_unknown_model_or_version_is_a_404_in_the_protocols_words(client, path):
    r = client.get(path)
    assert r.status_code == 404 and set(r.json()) == {"error"}, r.text


@pytest.mark.parametrize("path", ["/v2/models/mnist/infer", "/v2/models/digits/versions/0/infer"])
def test_inference_on_an_unknown_model_or_version_is_a_404(client, path, images):
    r = client.post(path, json=request(images))
    assert r.status_code == 404 and "error" in r.json()


def test_json_tensors_give_every_output_the_network_gives(client, clf, images):
    r = client.post(INFER, json=request(images, id="a-7"))
    assert r.status_code == 200 and "inference-header-content-length" not in r.headers
    assert r.json()["id"] == "a-7" and r.json()["model_name"] == "digits"
    got = outputs(r)
    fw = clf.net.forward(images)
    O = clf.confidence.probabilities(fw.S)
    assert np.abs(got["probabilities"] - O).max() < EXACT
    assert np.allclose(got["scores"], fw.S, atol=1e-5)
    assert (got["label"] == O.argmax(axis=1)).all()
    for name in ("C1", "P1", "C2", "P2"):
        assert np.allclose(got[name], getattr(fw, name), atol=1e-5), name


@pytest.mark.parametrize("shape", [[3, 28, 28], [3, 784], [3, 1, 28, 28]])
@pytest.mark.parametrize("datatype", ["FP32", "FP64", "UINT8"])
def test_every_shape_and_datatype_reads_the_same_images(client, clf, rng, shape, datatype):
    pixels = rng.integers(0, 256, (3, 28, 28))
    x = pixels if datatype == "UINT8" else pixels / 255
    flat = {"inputs": [{"name": "image", "shape": shape, "datatype": datatype, "data": x.ravel().tolist()}]}
    nested = request(x.reshape(shape), datatype=datatype)
    expected = clf.predict_batch(pixels / 255)
    for body in (flat, nested):
        r = client.post(INFER, json=body | {"outputs": [{"name": "probabilities"}]})
        assert r.status_code == 200, r.text
        assert np.abs(outputs(r)["probabilities"] - expected).max() < EXACT


def test_binary_tensors_both_ways_as_the_extension_lays_them_out(client, clf, images):
    header = {
        "inputs": [
            {"name": "image", "shape": [3, 28, 28], "datatype": "FP32", "parameters": {"binary_data_size": 3 * 784 * 4}}
        ],
        "outputs": [{"name": "label"}, {"name": "probabilities", "parameters": {"binary_data": True}}],
    }
    body, headers = binary_body(header, images.astype("<f4").tobytes())
    r = client.post(INFER, content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/octet-stream"
    length = int(r.headers["inference-header-content-length"])
    head = json.loads(r.content[:length])
    assert "data" in head["outputs"][0] and head["outputs"][1]["parameters"] == {"binary_data_size": 3 * 10 * 4}
    assert len(r.content) == length + 120
    got = outputs(r)
    assert np.abs(got["probabilities"] - clf.predict_batch(images)).max() < EXACT


def test_binary_data_output_makes_every_output_binary_unless_one_says_otherwise(client, images):
    body = request(
        images,
        parameters={"binary_data_output": True},
        outputs=[{"name": "label"}, {"name": "scores", "parameters": {"binary_data": False}}],
    )
    r = client.post(INFER, json=body)
    length = int(r.headers["inference-header-content-length"])
    label, scores = json.loads(r.content[:length])["outputs"]
    assert label["parameters"] == {"binary_data_size": 24} and "data" not in label
    assert "data" in scores and "parameters" not in scores
    assert len(r.content) == length + 24


def test_a_large_batch_with_feature_maps_is_answered_by_a_worker(client, clf, rng):
    x = rng.random((MAX_BATCH, 28, 28)).astype(np.float32)
    body, headers = binary_body(
        {
            "inputs": [
                {
                    "name": "image",
                    "shape": [MAX_BATCH, 784],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": x.nbytes},
                }
            ],
            "parameters": {"binary_data_output": True},
        },
        x.tobytes(),
    )
    r = client.post(INFER, content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert np.allclose(outputs(r)["C2"], clf.net.forward(x).C2, atol=1e-5)


def header(shape=(1, 28, 28), datatype="FP32", size=784 * 4, **extra) -> dict:
    return {
        "inputs": [
            {"name": "image", "shape": list(shape), "datatype": datatype, "parameters": {"binary_data_size": size}}
            | extra
        ]
    }


ONE = np.zeros(784, "<f4").tobytes()
HOSTILE = {  # name -> (body, headers): each must be a 400 with the protocol's error
    "the header length is not a number": (ONE, {"Inference-Header-Content-Length": "-5"}),
    "the header length is beyond the body": (b"{}", {"Inference-Header-Content-Length": "99999"}),
    "the header length is absurdly long": (b"{}", {"Inference-Header-Content-Length": "9" * 40}),
    "the header length cuts the JSON": binary_body(header(), ONE)[0:1] + ({"Inference-Header-Content-Length": "10"},),
    "binary_data_size beyond what follows": binary_body(header(size=784 * 4), ONE[:100]),
    "binary_data_size short of what follows": binary_body(header(size=784 * 4), ONE + b"xx"),
    "binary_data_size disagrees with the shape": binary_body(header(size=100), ONE[:100]),
    "a shape of a billion images": binary_body(header(shape=(10**9, 28, 28), size=10**9 * 784 * 4), ONE),
    "more images than CNN_MAX_BATCH": binary_body(header(shape=(MAX_BATCH + 1, 784), size=(MAX_BATCH + 1) * 3136), ONE),
    "an empty batch": binary_body(header(shape=(0, 28, 28), size=0)),
    "a shape that is not an image": binary_body(header(shape=(1, 27, 29), size=27 * 29 * 4), ONE[: 27 * 29 * 4]),
    "BYTES": binary_body(header(datatype="BYTES", size=784), ONE[:784]),
    "both data and binary": binary_body(header(data=[0.0] * 784), ONE),
    "binary bytes without the header": (json.dumps(header()).encode() + ONE, {}),
    "NaN in binary": binary_body(header(), np.full(784, np.nan, "<f4").tobytes()),
    "a pixel above 1": binary_body(header(), np.full(784, 2, "<f4").tobytes()),
    "binary_data_size negative": binary_body(header(size=-1), ONE),
    "binary_data_size a string": binary_body(header(size="3136"), ONE),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_lying_or_malformed_binary_request_is_a_400(client, case):
    body, headers = HOSTILE[case]
    r = client.post(INFER, content=body, headers=headers)
    assert r.status_code == 400 and set(r.json()) == {"error"}, r.text


BAD_JSON = {  # name -> JSON body
    "not JSON": "{",
    "no inputs": {},
    "two inputs": {"inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": [0] * 784}] * 2},
    "a wrong input name": {"inputs": [{"name": "x", "shape": [1, 784], "datatype": "FP32", "data": [0] * 784}]},
    "too few values": {"inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": [0] * 783}]},
    "strings": {"inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": ["0.5"] * 784}]},
    "booleans": {"inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": [True] * 784}]},
    "ragged nesting": {
        "inputs": [{"name": "image", "shape": [2, 784], "datatype": "FP32", "data": [[0] * 784, [0] * 783 + [[0]]]}]
    },
    "objects": {"inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": [{}] * 784}]},
    "deep nesting": '{"inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": '
    + "[" * 5000
    + "]" * 5000
    + "}]}",
    "a huge integer": {
        "inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": [10**400] + [0] * 783}]
    },
    "UINT8 beyond 255": {"inputs": [{"name": "image", "shape": [1, 784], "datatype": "UINT8", "data": [256] * 784}]},
    "UINT8 fractions": {"inputs": [{"name": "image", "shape": [1, 784], "datatype": "UINT8", "data": [0.5] * 784}]},
    "no data": {"inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32"}]},
    "an unknown output": {
        "inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": [0] * 784}],
        "outputs": [{"name": "O"}],
    },
    "an output twice": {
        "inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": [0] * 784}],
        "outputs": [{"name": "label"}] * 2,
    },
    "classification": {
        "inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": [0] * 784}],
        "outputs": [{"name": "label", "parameters": {"classification": 3}}],
    },
    "binary_data not a boolean": {
        "inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": [0] * 784}],
        "parameters": {"binary_data_output": "yes"},
    },
}


@pytest.mark.parametrize("case", BAD_JSON, ids=list(BAD_JSON))
def test_a_malformed_json_request_is_a_400(client, case):
    body = BAD_JSON[case]
    r = client.post(INFER, content=body if isinstance(body, str) else json.dumps(body))
    assert r.status_code == 400 and set(r.json()) == {"error"}, r.text
    assert len(r.text) < 1000


def test_a_body_past_the_limit_is_refused_as_it_arrives(client):
    r = client.post(INFER, content=b"[" * (MAX_BODY + 1))
    assert r.status_code == 413 and "error" in r.json()


def test_a_compressed_body_is_refused_unopened(client):
    r = client.post(INFER, content=b"\x1f\x8b" + b"\0" * 100, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400 and "uncompressed" in r.json()["error"]
