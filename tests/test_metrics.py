"""Prometheus metrics at /metrics: after N scripted requests the counters rose by exactly N, per route
and status and per digit read, and the histograms' counts agree; read with prometheus_client's own
text parser, as Prometheus would read them."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time
from collections import Counter

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.main import create_app
from app.transport import metrics as metrics_module
from app.transport.endpoints import INLINE_BYTES
from app.transport.facts import SMALL, Facts
from bench.servers import free_port, start_app, wait_until_healthy
from tests.conftest import WEIGHTS
from tests.test_api import png_bytes


@pytest.fixture(scope="module")
def settings():
    return Settings(weights=WEIGHTS, pool_workers=1)


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(metrics_module, "FRESH_SECONDS", 0)  # every scrape renders anew (one test checks the cache)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape's text: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"] == CONTENT_TYPE_LATEST
    return samples(r.text)


def rise(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_after_n_requests_the_counters_rose_by_exactly_n(client, mnist):
    images, labels = mnist.test.images[:40], mnist.test.labels[:40]
    grids = (images / 255).round(4)
    before = scrape(client)

    answered: list[int] = []
    for grid in grids[:25]:  # on the event loop
        r = client.post("/predict", json={"image": grid.tolist()})
        assert r.status_code == 200
        answered.append(r.json()["label"])
    batch = client.post("/predict/batch", json={"images": grids[25:37].tolist()})  # 12 images, one request
    assert batch.status_code == 200
    answered += [p["label"] for p in batch.json()["predictions"]]
    for image in images[37:40]:  # uploads: decoded and normalised in a worker
        r = client.post("/predict/image", files={"file": ("digit.png", png_bytes(255 - image), "image/png")})
        assert r.status_code == 200
        answered.append(r.json()["label"])
    for bad in ({"image": [[2.0]]}, {"image": "seven"}, {"nothing": 1}):  # three client mistakes
        assert client.post("/predict", json=bad).status_code == 422
    assert client.get("/healthz").status_code == 200
    assert client.get("/no/such/page").status_code == 404

    after = scrape(client)
    assert np.mean(np.array(answered) == labels) >= 0.95  # real digits, read right
    read = Counter(answered)
    assert len(read) >= 9  # nearly every digit is among them
    expected = {
        ("/predict", "200"): 25,
        ("/predict/batch", "200"): 1,
        ("/predict/image", "200"): 3,
        ("/predict", "422"): 3,
        ("/healthz", "200"): 1,
        ("(static)", "404"): 1,
    }
    for (route, status), n in expected.items():
        assert rise(before, after, "cnn_http_requests_total", route=route, status=status) == n, (route, status)
        assert rise(before, after, "cnn_http_request_duration_seconds_count", route=route, status=status) == n
        assert (
            rise(before, after, "cnn_http_request_duration_seconds_bucket", route=route, status=status, le="+Inf") == n
        )
    # The previous scrape itself is the only other request counted in between.
    assert rise(before, after, "cnn_http_requests_total", route="/metrics", status="200") == 1
    # One drawing a request; the batch's twelve items are counted apart.
    batch_read = Counter(answered[25:37])
    single_read = read - batch_read
    for digit in range(10):
        assert rise(before, after, "cnn_predictions_total", digit=str(digit)) == single_read[digit], digit
        assert rise(before, after, "cnn_batch_predictions_total", digit=str(digit)) == batch_read[digit], digit
    for endpoint, n in (("predict", 25), ("predict_batch", 1), ("predict_image", 3)):
        for stage in ("decode", "network", "encode"):
            assert rise(before, after, "cnn_stage_duration_seconds_count", endpoint=endpoint, stage=stage) == n
        normalised = 0 if endpoint != "predict_image" else n  # a 28x28 grid is not normalised unless asked
        assert rise(before, after, "cnn_stage_duration_seconds_count", endpoint=endpoint, stage="normalise") == (
            normalised
        )
    assert rise(before, after, "cnn_input_ink_count") == 28  # every drawing of a request of one
    assert rise(before, after, "cnn_input_centre_count", axis="x") == 28
    # The unsure counter moves with the answers' own "unsure" flags (none of these is unsure).
    assert rise(before, after, "cnn_unsure_predictions_total") == 0


def test_unsure_answers_are_counted(client):
    before = scrape(client)
    grid = np.full((28, 28), 0.5)  # an even grey: no digit the network is sure of
    unsure = [client.post("/predict", json={"image": grid.tolist()}).json()["unsure"] for _ in range(3)]
    after = scrape(client)
    assert unsure == [True] * 3
    assert rise(before, after, "cnn_unsure_predictions_total") == 3


def test_the_drift_signal_is_what_arrived_before_normalisation(client):
    before = scrape(client)
    drawing = np.zeros((100, 200))
    drawing[10:30, 20:60] = 1.0  # ink in the top-left: x = 40/200, y = 20/100
    r = client.post("/predict", json={"image": drawing.tolist(), "normalize": True})
    assert r.status_code == 200
    after = scrape(client)
    assert rise(before, after, "cnn_input_ink_count") == 1
    assert rise(before, after, "cnn_input_ink_sum") == pytest.approx(800 / 20000)
    assert rise(before, after, "cnn_input_centre_sum", axis="x") == pytest.approx(0.2)
    assert rise(before, after, "cnn_input_centre_sum", axis="y") == pytest.approx(0.2)
    assert rise(before, after, "cnn_input_centre_bucket", axis="x", le="0.2") == 1
    assert rise(before, after, "cnn_stage_duration_seconds_count", endpoint="predict", stage="normalise") == 1


def test_the_drift_signal_is_mean_ink_and_centre_of_mass_for_any_size():
    rng = np.random.default_rng(0)
    for shape in ((28, 28), (7, 300), (80, 80), (3, 40, 50)):
        inputs = rng.random(shape) ** 4
        facts = Facts()
        facts.saw(inputs)
        ink, x, y = np.array(facts.looks).T
        h, w = shape[-2:]
        rows, cols = np.indices((h, w))
        mass = inputs.sum(axis=(-2, -1)).ravel()
        assert np.allclose(ink, inputs.mean(axis=(-2, -1)).ravel())
        assert np.allclose(x, (inputs * (cols + 0.5)).sum(axis=(-2, -1)).ravel() / mass / w)
        assert np.allclose(y, (inputs * (rows + 0.5)).sum(axis=(-2, -1)).ravel() / mass / h)
    assert 28 * 28 <= SMALL < 80 * 80  # both ways of computing it were checked above
    facts = Facts()
    facts.saw(np.zeros((2, 28, 28)))
    assert [ink for ink, _, _ in facts.looks] == [0.0, 0.0] and all(math.isnan(x) for _, x, _ in facts.looks)


def test_refusals_by_backpressure_are_counted(client):
    path = client.app.state.path
    before = scrape(client)
    path.slots.running[False] = 10**6  # every visitor's training slot taken
    try:
        r = client.post("/train", json={"recipe": "article", "seed": 0, "steps": 1})
    finally:
        path.slots.running[False] = 0
    assert r.status_code == 429
    path.budget.used = path.budget.total  # every byte of the bodies in flight taken
    try:
        r = client.post(
            "/predict/batch", content=b" " * (INLINE_BYTES + 1), headers={"content-type": "application/json"}
        )
    finally:
        path.budget.used = 0
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    after = scrape(client)
    assert rise(before, after, "cnn_refused_requests_total", reason="training") == 1
    assert rise(before, after, "cnn_refused_requests_total", reason="busy") == 1
    assert rise(before, after, "cnn_http_requests_total", route="/train", status="429") == 1
    assert after[("cnn_pool_workers", ())] == 1
    assert after[("cnn_pool_busy_workers", ())] == 0 and after[("cnn_training_requests", ())] == 0


def test_labels_stay_few_whatever_the_paths(client):
    for i in range(50):
        client.get(f"/random/{i}")
        client.post(f"/predict/{i}", json={})
    routes = {dict(labels)["route"] for name, labels in scrape(client) if name == "cnn_http_requests_total"}
    api = set(client.get("/openapi.json").json()["paths"])
    assert routes <= api | {"/", "(static)", "/metrics", "/openapi.json", "/docs"}
    assert "(static)" in routes and "/predict" in routes


def test_a_flood_of_scrapes_is_answered_from_one_rendering(client, monkeypatch):
    monkeypatch.setattr(metrics_module, "FRESH_SECONDS", 60)
    first = client.get("/metrics").text
    client.post("/predict", json={"image": [[0.0] * 28] * 28})
    assert all(client.get("/metrics").text == first for _ in range(20))


def test_metrics_can_be_switched_off():
    with TestClient(create_app(Settings(weights=WEIGHTS, pool_workers=1, metrics=False))) as c:
        assert c.get("/metrics").status_code == 404
        assert c.post("/predict", json={"image": [[0.0] * 28] * 28}).status_code == 200


def test_the_api_document_leaves_metrics_to_prometheus(client):
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def answered(state: dict, route: str, status: str) -> int:
    """Requests of one route and status in a state a server process left in the shared directory."""
    series = state["histograms"]["cnn_http_request_duration_seconds"]
    return sum(int(sum(counts[:-1])) for labels, counts in series if labels == [route, status])


def test_with_several_server_processes_every_scrape_counts_them_all(tmp_path):
    """`python -m app --workers 2`: whichever process a scrape reaches, it answers for both."""
    port = free_port()
    shared = tmp_path / "shared"
    shared.mkdir()
    env = {**os.environ, "CNN_METRICS_DIR": str(shared), "CNN_POOL_WORKERS": "1", "CNN_WEIGHTS": str(WEIGHTS)}
    server = start_app(port, "--workers", "2", env=env, stderr=subprocess.PIPE)
    try:
        wait_until_healthy(port, server, seconds=60)
        url = f"http://127.0.0.1:{port}"
        grid = np.zeros((28, 28))
        grid[6:22, 13:15] = 1.0
        for _ in range(60):  # a new connection each: the kernel hands them to either process
            assert httpx.post(f"{url}/predict", json={"image": grid.tolist()}).status_code == 200
        time.sleep(metrics_module.SHARE_SECONDS + metrics_module.FRESH_SECONDS + 0.5)
        files = sorted(shared.glob("*.json"))
        assert len(files) == 2, files  # one per server process
        per_process = [answered(json.loads(f.read_text()), "/predict", "200") for f in files]
        assert sum(per_process) == 60, per_process
        for _ in range(8):
            seen = samples(httpx.get(f"{url}/metrics").text)
            assert seen["cnn_http_requests_total", (("route", "/predict"), ("status", "200"))] == 60
            assert seen["cnn_predictions_total", (("digit", "1"),)] == 60
            assert seen["cnn_pool_workers", ()] == 2  # one pool worker in each live process
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0, server.stderr.read().decode()[-2000:] if server.stderr else ""
