"""Clients nobody here wrote, against a real server process: NVIDIA's tritonclient (binary tensors,
its default, and JSON) and KServe's InferenceRESTClient, on MNIST test digits. Their probabilities
must be /predict's."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.infer_type import RequestedOutput
from tritonclient.utils import InferenceServerException

from bench.attacks import Server

AGREE = 1e-6  # with /predict's probabilities
DIGITS = 64  # each also sent to /predict, one by one


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server(CNN_POOL_WORKERS="1")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(server) -> Iterator[triton.InferenceServerClient]:
    c = triton.InferenceServerClient(server.url.removeprefix("http://"))
    yield c
    c.close()


@pytest.fixture(scope="module")
def digits(mnist) -> tuple[np.ndarray, np.ndarray]:
    return mnist.test.images[:DIGITS], mnist.test.labels[:DIGITS]


@pytest.fixture(scope="module")
def predicted(server, digits) -> np.ndarray:
    """/predict's probabilities for each digit, one request each."""
    with httpx.Client(base_url=server.url) as http:
        return np.array(
            [http.post("/predict", json={"image": (d / 255).tolist()}).json()["probabilities"] for d in digits[0]]
        )


def test_tritonclient_health_and_metadata(client):
    assert client.is_server_live() and client.is_server_ready()
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    meta = client.get_model_metadata("digits")
    assert meta["inputs"][0]["name"] == "image" and len(meta["versions"]) == 1
    assert client.is_model_ready("digits") and client.is_model_ready("digits", meta["versions"][0])
    assert not client.is_model_ready("mnist") and not client.is_model_ready("digits", "1")
    with pytest.raises(InferenceServerException, match="unknown model"):
        client.get_model_metadata("mnist")


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("datatype", ["FP32", "UINT8"])
def test_tritonclient_inference_is_predicts(client, digits, predicted, binary, datatype):
    images, labels = digits
    x = (images / 255).astype(np.float32) if datatype == "FP32" else images
    tensor = triton.InferInput("image", list(x.shape), datatype)
    tensor.set_data_from_numpy(x, binary_data=binary)
    wanted = [triton.InferRequestedOutput(name, binary_data=binary) for name in ("probabilities", "label")]
    result = client.infer(
        "digits", [tensor], outputs=wanted, model_version=client.get_model_metadata("digits")["versions"][0]
    )
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (DIGITS, 10)
    assert np.abs(probabilities - predicted).max() < AGREE
    assert (result.as_numpy("label") == predicted.argmax(axis=1)).all()
    assert (result.as_numpy("label") == labels).mean() > 0.9


def test_tritonclient_gets_every_output_in_binary_when_it_names_none(client, digits):
    x = (digits[0][:2] / 255).astype(np.float32).reshape(2, 784)
    tensor = triton.InferInput("image", [2, 784], "FP32")
    tensor.set_data_from_numpy(x)
    result = client.infer("digits", [tensor])
    assert result.as_numpy("C1").shape == (2, 6, 24, 24) and result.as_numpy("P2").shape == (2, 12, 4, 4)
    assert all("data" not in o for o in result.get_response()["outputs"])


def test_tritonclient_hears_a_bad_request_in_words(client):
    tensor = triton.InferInput("image", [1, 28, 28], "FP32")
    tensor.set_data_from_numpy(np.full((1, 28, 28), 2, np.float32))
    with pytest.raises(InferenceServerException, match=r"\[0, 1\]"):
        client.infer("digits", [tensor])


def test_kserve_inference_rest_client(server, digits, predicted):
    images = (digits[0] / 255).astype(np.float32)

    async def talk() -> list[np.ndarray]:
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))
        try:
            assert await client.is_server_live(server.url) and await client.is_server_ready(server.url)
            assert await client.is_model_ready(server.url, "digits")
            answers = []
            for binary in (False, True):
                tensor = InferInput("image", list(images.shape), "FP32")
                tensor.set_data_from_numpy(images, binary_data=binary)
                # 64 images: the outputs are named, since all of them (the feature maps too) come as JSON
                # for at most CNN_MAX_JSON_MAP_IMAGES images a request (issue 33: unread answers bounded)
                wanted = [RequestedOutput("label"), RequestedOutput("probabilities")]
                request = InferRequest("digits", [tensor], request_outputs=wanted)
                response = await client.infer(server.url, request, model_name="digits")
                answers.append(next(o for o in response.outputs if o.name == "probabilities").as_numpy())
            return answers
        finally:
            await client.close()

    # In a thread of its own: the browser tests' Playwright keeps an event loop running on this one.
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        answers = thread.submit(asyncio.run, talk()).result()
    for probabilities in answers:
        assert np.abs(probabilities - predicted).max() < AGREE


def test_a_real_server_refuses_lying_and_oversized_requests_and_keeps_answering(server, client):
    head = b'{"inputs":[{"name":"image","shape":[1,784],"datatype":"UINT8","parameters":{"binary_data_size":784}}]}'
    with httpx.Client(base_url=server.url, timeout=10) as http:
        lying = http.post(
            "/v2/models/digits/infer", content=head + bytes(784), headers={"Inference-Header-Content-Length": "5"}
        )
        short = http.post(
            "/v2/models/digits/infer",
            content=head + bytes(10),
            headers={"Inference-Header-Content-Length": str(len(head))},
        )
        huge = http.post("/v2/models/digits/infer", content=b"{" * (8 * 2**20 + 1))
    assert lying.status_code == short.status_code == 400 and huge.status_code == 413
    assert all("error" in r.json() for r in (lying, short, huge))
    assert client.is_server_ready()
