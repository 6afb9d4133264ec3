"""The backprop explorer: /explain's gradients are the network's, /teach is one honest SGD step on the
visitor's copy, and nothing is kept between requests."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request

import numpy as np
import pytest

import model
from app.config import Settings
from bench.servers import free_port, wait_until_healthy
from model.architecture import GRADIENTS
from model.codec import decode_params, encode_params
from model.mnist import to_float
from model.network import forward, mean_loss
from tests.conftest import ROOT
from tests.numeric import numeric_grad, relative_error


@pytest.fixture(scope="module")
def net64_weights(tmp_path_factory):
    """A float64 network, so that the endpoint's gradients can be checked against finite differences."""
    net = model.CNN.random(seed=8, dtype=np.float64)
    rng = np.random.default_rng(8)
    net.params["b1"][:] = rng.normal(0, 0.2, 6)
    net.params["b2"][:] = rng.normal(0, 0.2, 12)
    return net.save(tmp_path_factory.mktemp("explorer") / "net64", {"test_accuracy": 0.1})


@pytest.fixture(scope="module")
def settings(net64_weights):
    return Settings(weights=net64_weights)


@pytest.fixture(scope="module")
def digit(mnist) -> np.ndarray:
    return to_float(mnist.test.images[1], np.float64).round(4)  # a 2


def test_explain_answers_every_gradient_of_the_network_for_that_image(client, net64_weights, digit):
    net = model.load(net64_weights)
    r = client.post("/explain", json={"image": digit.tolist(), "label": 3, "maps_encoding": "json"})
    assert r.status_code == 200, r.text
    body = r.json()
    loss, grads = net.loss_and_gradients(digit, [3])
    assert body["loss"] == pytest.approx(loss, rel=1e-12)
    got = {k: np.array(v) for k, v in body["gradients"].items()}
    for name, key in (("k1", "dLk1"), ("b1", "dLb1"), ("k2", "dLk2"), ("b2", "dLb2"), ("w", "dLw"), ("b", "dLS")):
        assert np.allclose(got[key], grads[name], rtol=1e-10, atol=1e-14), key
    for name, key in (("b", "dLb"),):
        assert np.allclose(got[key], grads[name], rtol=1e-10, atol=1e-14), key
    # every gradient model/architecture.py names, in backpropagation's order, with its shape
    assert list(got) == [g.name for g in GRADIENTS]
    assert all(got[g.name].shape == g.shape for g in GRADIENTS)
    assert got["dLC1"].shape == got["dLS1"].shape == (6, 24, 24) and got["dLI"].shape == (28, 28)
    for name, value in got.items():
        assert body["norms"][name] == pytest.approx(np.linalg.norm(value), rel=1e-9), name
    assert body["equations"]["dLk1"] == "65" and body["equations"]["dLP1"] == "56"


def test_explain_agrees_with_finite_differences(client, net64_weights, digit):
    net = model.load(net64_weights)
    labels = np.array([5])
    # MNIST's blank background makes whole pooling windows tie exactly, where the loss has a kink and
    # finite differences see half a gradient. A faint noise breaks the ties; the digit stays a 2.
    image = np.clip(digit + np.random.default_rng(3).uniform(0, 0.01, digit.shape), 0, 1)
    body = client.post("/explain", json={"image": image.tolist(), "label": 5, "maps_encoding": "json"}).json()
    numeric_image = numeric_grad(lambda: mean_loss(forward(net.params, image[None]), labels), image)
    assert relative_error(np.array(body["gradients"]["dLI"]), numeric_image) < 1e-6
    numeric_k1 = numeric_grad(lambda: mean_loss(forward(net.params, image[None]), labels), net.params["k1"])
    assert relative_error(np.array(body["gradients"]["dLk1"]), numeric_k1) < 1e-6


def test_explain_in_float16_decodes_to_the_same_gradients(client, digit):
    as_json = client.post("/explain", json={"image": digit.tolist(), "label": 1, "maps_encoding": "json"}).json()
    compact = client.post("/explain", json={"image": digit.tolist(), "label": 1}).json()  # float16 by default
    for name, value in compact["gradients"].items():
        decoded = np.frombuffer(base64.b64decode(value["float16"]), "<f2").reshape(value["shape"]).astype(float)
        expected = np.array(as_json["gradients"][name])
        assert np.allclose(decoded, expected, rtol=2e-3, atol=1e-4 * np.abs(expected).max() + 1e-7), name


def test_teaching_raises_the_chosen_digit_and_never_touches_the_shared_network(client, digit):
    shared_before = client.post("/predict", json={"image": digit.tolist()}).json()
    params = None
    chances = []
    for _ in range(3):
        request = {"image": digit.tolist(), "label": 6, "lr": 0.05, **({"params": params} if params else {})}
        lesson = client.post("/teach", json=request).json()
        assert lesson["probabilities_after"][6] > lesson["probabilities_before"][6]
        assert lesson["loss_after"] < lesson["loss_before"]
        chances.append(lesson["probabilities_after"][6])
        params = lesson["params"]
    assert chances == sorted(chances)  # each step raises it further
    mine = client.post("/predict", json={"image": digit.tolist(), "params": params}).json()
    assert mine["probabilities"][6] == pytest.approx(chances[-1], rel=1e-5)
    assert client.post("/predict", json={"image": digit.tolist()}).json() == shared_before


def test_a_teach_step_is_the_articles_update_on_the_sent_parameters(client, net64_weights, digit):
    start = model.CNN.random(seed=21)
    sent = encode_params(start.params)
    lesson = client.post("/teach", json={"image": digit.tolist(), "label": 2, "lr": 0.1, "params": sent}).json()
    _, grads = start.loss_and_gradients(digit, [2])
    expected = {k: v - np.float32(0.1) * grads[k] for k, v in start.params.items()}
    got = decode_params(lesson["params"])
    for name in expected:
        assert np.allclose(got[name], expected[name], rtol=1e-6, atol=1e-7), name


@pytest.mark.parametrize(
    "params, message",
    [
        ("abc", "base64 characters"),
        ("!" * 20792, "not valid base64"),
        (base64.b64encode(np.full(3898, np.nan, "<f4").tobytes()).decode(), "NaN"),
        (base64.b64encode(np.full(3898, 1e6, "<f4").tobytes()).decode(), "within"),
        (base64.b64encode(np.zeros(3897, "<f4").tobytes()).decode() + "AAAA", "base64 characters"),
        (12345, "valid string"),
    ],
)
def test_malformed_parameters_get_a_clear_422(client, digit, params, message):
    for path, extra in (("/teach", {"label": 1}), ("/explain", {"label": 1}), ("/predict", {})):
        r = client.post(path, json={"image": digit.tolist(), "params": params, **extra})
        assert r.status_code == 422, (path, r.text)
        assert message in r.json()["detail"], (path, r.json())


def test_explain_and_teach_refuse_bad_labels_and_rates(client, digit):
    for body, message in (
        ({"label": 10}, "label"),
        ({"label": "3"}, "label"),
        ({"label": 3, "lr": 0}, "lr"),
        ({"label": 3, "lr": 1e9}, "lr"),
        ({}, "label: Field required"),
    ):
        r = client.post("/teach", json={"image": digit.tolist(), **body})
        assert r.status_code == 422 and message in r.json()["detail"], r.text


def test_two_separately_started_workers_give_the_same_lesson(digit):
    """Nothing is kept between requests: any worker, any replica, answers a /teach the same."""
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "app", "--port", str(p), "--log-level", "warning"], cwd=ROOT, env={**os.environ}
        )
        for p in ports
    ]
    try:
        answers = []
        body = json.dumps({"image": digit.tolist(), "label": 4, "lr": 0.02}).encode()
        for port in ports:
            wait_until_healthy(port)
            lesson = None
            for _ in range(2):  # twice on each: the second request must not see the first's step
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/teach", body, {"Content-Type": "application/json"}
                )
                lesson = urllib.request.urlopen(request, timeout=10).read()
                answers.append(lesson)
        assert len(set(answers)) == 1
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
