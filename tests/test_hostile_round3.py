"""Issue 25: /train, resume tokens and strict JSON under a hostile visitor, within every documented limit.

Each test is one case of the issue, and failed on the commit before it was fixed (0c964ac):
stalled uploads holding /train's slots, subnormal numbers buying 5-14x the CPU, a step counter
near 2^64 (500), Infinity in an answer, a bad file in the metrics directory (500), stale metrics
directories, a /predict/batch flood swamping the unsure rate, and `server: uvicorn`.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.lab_requests import TeachRequest
from app.api.requests import PredictRequest
from app.config import Settings
from app.main import create_app
from bench.attacks import Server
from bench.servers import free_port, start_app, wait_until_healthy
from bench.train_cost import token
from model.architecture import PARAM_SHAPES
from model.codec import decode_params
from model.data import small_mnist
from model.training.runs import InvalidRun, Run
from tests.conftest import WEIGHTS
from tests.test_metrics import rise, samples


def strict_loads(body: bytes | str) -> Any:
    """JSON as RFC 8259 has it, as a browser's JSON.parse reads it: NaN and Infinity refused."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(body, parse_constant=refuse)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(weights=WEIGHTS, pool_workers=1)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """A real `python -m app`: two pool workers (four training slots), stalled bodies cut after 5 s,
    16 MiB of large bodies in flight."""
    s = Server(
        CNN_POOL_WORKERS="2",
        CNN_BODY_TIMEOUT="5",
        CNN_BODIES_IN_FLIGHT_BYTES=str(16 * 2**20),
        CNN_MAX_BODY_BYTES=str(8 * 2**20),
    )
    yield s
    s.stop()


def a_seven() -> list[list[float]]:
    data = small_mnist()
    assert data.test_labels[0] == 7
    return (data.test_images[0] / 255).tolist()


def stall(server: Server, path: str, declared: int, sent: bytes) -> socket.socket:
    """A connection that sends the headers and the first bytes of a body, then nothing."""
    c = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    c.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\n\r\n".encode()
        + sent
    )
    return c


# --- 1. a slot, a seat or a budget is taken only with the whole body in hand ---


def test_stalled_uploads_do_not_shut_train_for_everyone(server):
    stalled = [stall(server, "/train", 200, b'{"recipe":') for _ in range(8)]  # twice the training slots
    try:
        time.sleep(0.3)
        for _ in range(3):
            r = httpx.post(server.url + "/train", json={"recipe": "article", "seed": 0, "steps": 2}, timeout=30)
            assert r.status_code == 200, r.text  # 429 for the whole 30 s before
    finally:
        for c in stalled:
            c.close()


def test_stalled_large_uploads_hold_only_the_bytes_they_sent(server):
    # Each announces 8 MiB and sends ten bytes: two of them took the whole 16 MiB budget before.
    stalled = [stall(server, "/predict", 8 * 2**20 - 1, b'{"image": ') for _ in range(4)]
    try:
        time.sleep(0.3)
        drawing = np.zeros((200, 200))
        drawing[40:160, 95:105] = 1
        r = httpx.post(server.url + "/predict", json={"image": drawing.tolist(), "normalize": True}, timeout=30)
        assert r.status_code == 200 and r.json()["label"] == 1, r.text
    finally:
        for c in stalled:
            c.close()


# --- 2. the cost of a request does not depend on the values it carries ---


def test_a_token_of_subnormal_numbers_costs_what_a_normal_one_does(server):
    run = Run.start("ours", 0)
    data = small_mnist()
    run.train(data.train_images, data.train_labels, 1)
    costs = {}
    for name, text in (("normal", token(run)), ("1e-40", token(run, fill=1e-40)), ("1e-22", token(run, fill=1e-22))):
        seconds = []
        for _ in range(2):
            before = server.cpu()
            r = httpx.post(server.url + "/train", json={"resume": text, "steps": 16}, timeout=60)
            seconds.append(server.cpu() - before)
            assert r.status_code == 200, (name, r.text)
        costs[name] = min(seconds)
    # 7x and 14x before (bench/train_cost.py); 1.5x is the target, the rest is a shared machine's noise
    assert max(costs.values()) <= 2 * costs["normal"], costs


def test_subnormal_numbers_are_zero_wherever_they_enter():
    run = Run.start("ours", 0)
    state = Run.decode(base64.b64decode(token(run, fill=1e-40)))
    assert all(not v.any() for v in state.params.values()) and all(not v.any() for v in state.velocity.values())
    params = decode_params(base64.b64encode(np.full(3898, 1e-40, "<f4").tobytes()).decode())
    assert all(not v.any() for v in params.values())
    grid = np.zeros((28, 28))
    grid[4:24, 13:15] = 1e-40
    grid[0, 0] = 1.0
    assert PredictRequest.model_validate({"image": grid.tolist()}).grid()[4:24, 13:15].max() == 0
    assert TeachRequest.model_validate({"image": grid.tolist(), "label": 1, "lr": 1e-320}).lr == 0


def test_subnormals_made_along_the_way_are_flushed_by_the_cpu():
    from model.floats import LIBM, flush_to_zero

    small = np.full(1000, 1e-22, np.float32)
    assert (small * small).any()  # 1e-44: subnormal, the slow path
    with flush_to_zero() as flushing:
        product = small * small
    if LIBM is not None:  # x86-64 and AArch64 with glibc, where the service runs
        assert flushing and not product.any()
    assert (small * small).any()  # and the mode is restored after


# --- 3. counters: the step is bounded where a token is decoded ---


def test_a_step_counter_near_its_end_is_refused_with_a_sentence(client):
    run = Run.start("article", 0)
    started = time.process_time()
    r = client.post("/train", json={"resume": token(run, step=2**64 - 1024), "steps": 1024})
    assert r.status_code == 422, r.text  # 500 "internal error" before, after doing all the work
    assert "step" in r.json()["detail"] and time.process_time() - started < 0.2
    with pytest.raises(InvalidRun, match="step"):
        Run.decode(base64.b64decode(token(run, step=2**63)))
    last = client.post("/train", json={"resume": token(run, step=10**12), "steps": 1024})  # the last step: no further
    assert last.status_code == 422 and "ends at step" in last.json()["detail"], last.text


# --- 4. every answer is strict JSON ---


def extreme_params() -> str:
    """Every parameter 0 but b[3] = -1000: O_3 is exp(-1000), 0 in any float."""
    flat = np.zeros(sum(int(np.prod(s)) for s in PARAM_SHAPES.values()), "<f4")
    flat[-10 + 3] = -1000
    return base64.b64encode(flat.tobytes()).decode()


@pytest.mark.parametrize(
    "path, extra",
    [
        ("/equation", {"kind": "L"}),
        ("/equation", {"kind": "O", "index": [3]}),
        ("/explain", {}),
        ("/teach", {"lr": 0.001}),
        ("/check", {"gradient": "dLb", "index": [3]}),
        ("/nudge", {"target": 3, "max_steps": 3}),
        ("/predict", {}),
    ],
)
def test_an_infinite_loss_is_still_strict_json(client, path, extra):
    r = client.post(path, json={"image": a_seven(), "label": 3, "params": extreme_params()} | extra)
    assert r.status_code < 500, r.text
    answer = strict_loads(r.content)  # Infinity before, which JSON.parse refuses
    if path == "/equation" and extra["kind"] == "L":
        # S is 0 for nine digits and -1000 for the 3: L = ln(9 + exp(-1000)) + 1000
        assert r.status_code == 200 and answer["value"] == pytest.approx(1000 + np.log(9), rel=1e-12)
        assert answer["probability"] == 0 and answer["log_probability"] == -answer["value"]


def test_fastapis_own_answers_are_strict_json_too(client):
    for r in (client.get("/model"), client.get("/model/kernels"), client.get("/nowhere"), client.post("/predict")):
        strict_loads(r.content)


# --- 6. metrics and headers ---


def test_a_bad_file_in_the_metrics_directory_is_skipped_and_counted(tmp_path):
    for name, text in {
        "999991.json": "{}",
        "999992.json": "[1, 2]",
        "999993.json": "\x00\xff not json",
        "999994.json": '{"histograms": {}, "digits": [1], "unsure": "x", "refused": {}, "pool": null}',
        "999995.json": "[" * 100_000,
    }.items():
        (tmp_path / name).write_bytes(text.encode("latin-1"))
    settings = Settings(weights=WEIGHTS, pool_workers=1, metrics_dir=tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        assert c.post("/predict", json={"image": a_seven()}).status_code == 200
        r = c.get("/metrics")
        assert r.status_code == 200, r.text  # 500 on every scrape before
        seen = samples(r.text)
        assert seen["cnn_metrics_skipped_files_total", ()] >= 5
        assert seen["cnn_http_requests_total", (("route", "/predict"), ("status", "200"))] == 1


def test_a_flood_of_batches_does_not_move_the_unsure_rate(client):
    before = samples(client.get("/metrics").text)
    noise = np.random.default_rng(0).random((256, 28, 28)).round(3).tolist()
    settings = client.app.state.settings
    assert settings.max_batch >= 256
    for _ in range(2):
        r = client.post("/predict/batch", json={"images": noise})
        assert r.status_code == 200
    unsure = sum(p["unsure"] for p in r.json()["predictions"])
    assert unsure > 100  # noise: mostly unsure
    time.sleep(1.1)  # a rendering is reused for a second
    after = samples(client.get("/metrics").text)
    assert rise(before, after, "cnn_unsure_predictions_total") == 0  # +512 before
    assert rise(before, after, "cnn_batch_unsure_predictions_total") == 2 * unsure


def test_answers_do_not_name_the_server(server):
    for r in (httpx.get(server.url + "/healthz"), httpx.post(server.url + "/predict", json={})):
        assert "server" not in r.headers, r.headers


def test_a_dead_servers_metrics_directory_is_removed_at_start(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"cnn-metrics-{dead.pid}-x1y2"  # what a SIGKILLed `python -m app` leaves behind
    stale.mkdir()
    (stale / "123.json").write_text("{}")
    alive = tmp_path / f"cnn-metrics-{os.getpid()}-a1b2"  # a running one's: kept
    alive.mkdir()
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp_path), "CNN_POOL_WORKERS": "1", "CNN_WEIGHTS": str(WEIGHTS)}
    env.pop("CNN_METRICS_DIR", None)
    process = start_app(port, "--workers", "2", "--log-level", "warning", env=env)
    try:
        wait_until_healthy(port, process, seconds=60)
        assert not stale.exists() and alive.exists()
        assert len(list(tmp_path.glob(f"cnn-metrics-{process.pid}-*"))) == 1  # its own, named by its pid
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
