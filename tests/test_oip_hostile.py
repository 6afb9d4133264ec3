"""OIP v2 under a hostile visitor who stays inside the documented limits (the attacks of issue 28's
review): JSON that costs seconds to parse, batches on the event loop, and header digits that are
digits only to Unicode. Each is refused or sent to a worker, never answered with seconds of CPU or a 500."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

import model
from app.api.service import Classifier
from app.config import Settings
from app.interop.serving import infer
from app.interop.tensors import BadTensor, split_body
from app.main import create_app
from app.transport.endpoints import Call
from app.transport.facts import Facts
from app.transport.jobs import Job, NeedsWorker

INFER = "/v2/models/digits/infer"


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("oip-hostile") / "random"
    return model.CNN.random(seed=28).save(path, {"test_accuracy": 0.1, "calibration": {"temperature": 1.5}})


@pytest.fixture(scope="module")
def client(weights):
    with TestClient(create_app(Settings(weights=weights))) as c:  # the documented defaults: 8 MiB, 256 images
        yield c


def test_deeply_nested_data_is_refused_before_it_is_parsed(client):
    """691,650 lists of one zero in an 8 MB body used to cost a worker its whole 2 s of CPU (400 only
    when the worker was ended) and starved everyone's batches; now it is refused by counting."""
    data = ",".join(["[[[[[0]]]]]"] * 691_650)
    body = f'{{"inputs":[{{"name":"image","shape":[1,784],"datatype":"FP32","data":[{data}]}}]}}'
    r = client.post(INFER, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert "more values or lists than 256 images" in r.json()["error"]


def test_two_million_flat_numbers_are_refused_before_they_are_parsed(client):
    body = '{"inputs":[{"name":"image","shape":[1,784],"datatype":"FP32","data":[' + ",".join(["0"] * 2_074_950)
    r = client.post(INFER, content=body + "]}]}", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert "more values or lists" in r.json()["error"]


def test_the_largest_batch_still_fits_the_count(client, weights):
    """The bound is what the largest legitimate request needs: 256 images nested as [N, 1, 28, 28]."""
    x = np.zeros((256, 1, 28, 28), np.float32)
    req = {"inputs": [{"name": "image", "shape": [256, 1, 28, 28], "datatype": "FP32", "data": x.tolist()}]}
    r = client.post(INFER, json=req | {"outputs": [{"name": "label"}]})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["outputs"][0]["shape"] == [256]


def test_a_batch_is_never_answered_on_the_event_loop(weights):
    """41 UINT8 images fit in 32 KiB, the event loop's share; one image is the loop's, as for /predict."""
    clf, settings = Classifier.load(weights), Settings(weights=weights)
    head = {
        "inputs": [
            {"name": "image", "shape": [41, 784], "datatype": "UINT8", "parameters": {"binary_data_size": 41 * 784}}
        ],
        "parameters": {
            "binary_data_output": True
        },  # every output, the maps as binary (past 16 images, JSON's are refused)
    }
    text = json.dumps(head).encode()
    job = Job("v2_infer", text + bytes(41 * 784), "application/octet-stream", inference_header=str(len(text)))
    with pytest.raises(NeedsWorker):
        infer(job, Call(clf, settings, Facts(), True, {}))
    assert infer(job, Call(clf, settings, Facts(), False, {})).status == 200  # a worker answers it
    one = {
        "inputs": [{"name": "image", "shape": [1, 784], "datatype": "UINT8", "data": [0] * 784}],
        "outputs": [{"name": "probabilities"}],  # all outputs would include the maps: a worker's
    }
    assert (
        infer(
            Job("v2_infer", json.dumps(one).encode(), "application/json"), Call(clf, settings, Facts(), True, {})
        ).status
        == 200
    )


@pytest.mark.parametrize("header", ["²", "1¹²", "٣"])
def test_header_digits_that_only_unicode_calls_digits_are_refused(header):
    with pytest.raises(BadTensor, match="must be a number of bytes"):
        split_body(b'{"inputs": []}', header)
