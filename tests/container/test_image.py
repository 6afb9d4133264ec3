"""The Dockerfile, built unchanged by a real (sandboxed) Docker engine, and the container it makes, run.

Slow (a Debian root file system, a build, a run: about three minutes), so marked `container`;
`python -m pytest -m "not container"` leaves it out on a developer's machine. CI runs it.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import yaml
from PIL import Image

from bench.servers import free_port
from model.mnist import to_float
from tests.conftest import ROOT
from tests.e2e.conftest import ARTIFACTS

from .docker_sandbox import Engine, base_image, missing_requirements, sandboxed_engine

pytestmark = pytest.mark.container
DOCKERFILE = ROOT / "Dockerfile"
IMAGE = "numpy-cnn:test"
STOP_GRACE_SECONDS = 10
SHUTDOWN_SECONDS = 5  # CNN_SHUTDOWN_TIMEOUT's default: requests still running then are cut


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    reason = missing_requirements()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sandboxed_engine() as engine:
        yield engine


@pytest.fixture(scope="module")
def image(engine: Engine) -> dict:
    engine.import_debian_base(base_image(DOCKERFILE))
    started = time.monotonic()
    engine.docker("build", "--network=host", "--tag", IMAGE, str(ROOT), timeout=900)
    build_seconds = time.monotonic() - started
    (details,) = json.loads(engine.docker("image", "inspect", IMAGE).stdout)
    details["build_seconds"] = build_seconds
    return details


def get_json(url: str, body: dict | None = None, timeout: float = 5) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def serve(engine: Engine, name: str, *options: str) -> str:
    """The image started as container `name` (with docker run `options`) on a free port of the host's
    network; its URL once /healthz says ok, or its logs if that takes a minute."""
    port = free_port()
    engine.docker(
        "run", "--detach", "--name", name, "--network=host", *options,
        "--env", "CNN_HOST=127.0.0.1", "--env", f"CNN_PORT={port}", IMAGE,
    )  # fmt: skip
    url, started = f"http://127.0.0.1:{port}", time.monotonic()
    while True:
        try:
            assert get_json(f"{url}/healthz", timeout=1)["status"] == "ok"
            return url
        except OSError:
            assert time.monotonic() - started < 60, engine.docker("logs", name).stderr
            time.sleep(0.1)


def test_the_image_is_configured_to_serve_safely(image: dict) -> None:
    config = image["Config"]
    assert config["User"] and config["User"].split(":")[0] not in ("", "0", "root")
    assert "8000/tcp" in config["ExposedPorts"]
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["CNN_HOST"] == "0.0.0.0" and env["CNN_PORT"] == "8000"


def test_the_runtime_holds_no_compiler_pip_tests_or_sources(engine: Engine, image: dict) -> None:
    probe = (
        "import shutil, pathlib, importlib.util as u;"
        "print(pathlib.Path('/opt/cnn/bin/pip').exists(), shutil.which('gcc'),"
        "u.find_spec('pytest'), u.find_spec('tqdm'),"
        "pathlib.Path('/src').exists(), any(pathlib.Path('/opt/cnn').rglob('__pycache__')), pathlib.Path.cwd())"
    )
    out = engine.docker("run", "--rm", "--network=none", IMAGE, "python", "-c", probe).stdout.split()
    assert out == ["False", "None", "None", "None", "False", "False", "/tmp"]


def test_the_container_serves_the_model_reports_healthy_and_stops_cleanly(engine: Engine, image: dict, mnist) -> None:
    started = time.monotonic()
    url = serve(engine, "cnn-under-test")
    seconds_to_healthz = time.monotonic() - started

    # A real MNIST test digit, sent as the page sends it.
    images, labels = to_float(mnist.test.images[:8], np.float64), mnist.test.labels[:8]
    answers = [get_json(f"{url}/predict", {"image": image.round(4).tolist()}) for image in images]
    assert [a["label"] for a in answers] == labels.tolist()
    assert np.allclose([sum(a["probabilities"]) for a in answers], 1.0)
    with urllib.request.urlopen(f"{url}/", timeout=5) as page:
        assert b"<canvas" in page.read()

    # The shipped MNIST subset is in the image: a training run starts, learns and resumes.
    run = get_json(f"{url}/train", {"recipe": "article", "seed": 0, "steps": 1024}, timeout=30)
    run = get_json(f"{url}/train", {"resume": run["resume"], "steps": 1024}, timeout=30)
    assert run["step"] == 2048 and run["heldout_accuracy"] > 0.6

    # Docker's own health check, which runs inside the container with nothing but Python.
    health_format = "{{.State.Health.Status}}"
    while (status := engine.docker("inspect", "-f", health_format, "cnn-under-test").stdout.strip()) != "healthy":
        assert status == "starting" and time.monotonic() - started < 90, status
        time.sleep(1)

    # An upload from the image's own pool, then uploads that stall halfway: the stop must not wait for them.
    canvas = np.full((280, 280), 255, np.uint8)
    canvas[40:240, 130:150] = 0
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, "PNG")
    boundary = "b0undary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\n\r\n').encode()
    request = urllib.request.Request(
        f"{url}/predict/image",
        body + buf.getvalue() + f"\r\n--{boundary}--\r\n".encode(),
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["label"] == 1
    port = int(url.rsplit(":", 1)[1])
    stalled = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(10)]
    for c in stalled:
        c.sendall(
            b"POST /predict/image HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 1000000\r\n\r\n--b\r\n"
        )
    time.sleep(0.5)
    stopping = time.monotonic()
    engine.docker("stop", "--time", str(STOP_GRACE_SECONDS), "cnn-under-test", timeout=60)
    seconds_to_stop = time.monotonic() - stopping
    for c in stalled:
        c.close()
    state = json.loads(engine.docker("inspect", "-f", "{{json .State}}", "cnn-under-test").stdout)
    logs = engine.docker("logs", "cnn-under-test").stderr
    assert state["ExitCode"] == 0 and not state["OOMKilled"], (state, logs)
    assert seconds_to_stop < STOP_GRACE_SECONDS, "SIGTERM was not heeded; docker had to kill the container"
    assert seconds_to_stop < SHUTDOWN_SECONDS + 2, seconds_to_stop  # the stalled uploads were cut
    assert "Finished server process" in logs

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "container.json").write_text(
        json.dumps(
            {
                "base": base_image(DOCKERFILE),
                "user": image["Config"]["User"],
                "image_bytes": image["Size"],
                "build_seconds": round(image["build_seconds"], 1),
                "seconds_to_healthz": round(seconds_to_healthz, 2),
                "seconds_to_stop": round(seconds_to_stop, 2),
            },
            indent=2,
        )
        + "\n"
    )


def test_the_container_runs_locked_down_as_kubernetes_runs_it(engine: Engine, image: dict, mnist) -> None:
    """deploy/kubernetes/'s securityContext, from the outside: a read-only root with a tmpfs on /tmp
    (the worker pool's fork server keeps its socket there), no capabilities, no new privileges,
    and the memory limit the Deployment sets. It serves, uploads included, and stops cleanly."""
    deployment = yaml.safe_load((ROOT / "deploy" / "kubernetes" / "deployment.yaml").read_text())
    limit = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
    assert limit.endswith("Mi")
    url = serve(
        engine,
        "cnn-locked-down",
        "--read-only",
        "--tmpfs",
        "/tmp:rw,nosuid,nodev,size=16m,mode=1777",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        f"--memory={limit[:-2]}m",
    )
    images, labels = to_float(mnist.test.images[:8], np.float64), mnist.test.labels[:8]
    answers = [get_json(f"{url}/predict", {"image": image.round(4).tolist()}) for image in images]
    assert [a["label"] for a in answers] == labels.tolist()
    canvas = np.full((280, 280), 255, np.uint8)
    canvas[40:240, 130:150] = 0
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, "PNG")
    body = (
        b'--b0\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\n\r\n'
        + buf.getvalue()
        + b"\r\n--b0--\r\n"
    )
    request = urllib.request.Request(f"{url}/predict/image", body, {"Content-Type": "multipart/form-data; boundary=b0"})
    with urllib.request.urlopen(request, timeout=20) as response:  # a worker process of the pool answers
        assert json.loads(response.read())["label"] == 1
    engine.docker("stop", "--time", str(STOP_GRACE_SECONDS), "cnn-locked-down", timeout=60)
    state = json.loads(engine.docker("inspect", "-f", "{{json .State}}", "cnn-locked-down").stdout)
    assert state["ExitCode"] == 0 and not state["OOMKilled"], (state, engine.docker("logs", "cnn-locked-down").stderr)


def test_two_replicas_behind_one_address_lose_nothing_when_one_stops(engine: Engine, image: dict, mnist) -> None:
    """Kubernetes' picture in small: two containers of the image, requests spread over both (round
    robin by the client, as a Service would), and one replica stopped mid-stream, as a rolling update
    or a drained node stops it. Every request a client retries on the other replica (after a refused
    connection or a 503) is answered, and every answer is the network's."""
    from app.api.service import Classifier

    replicas = {name: serve(engine, name) for name in ("cnn-replica-a", "cnn-replica-b")}

    digits = to_float(mnist.test.images[:500], np.float64).round(4)
    expected = Classifier.load(ROOT / "weights" / "cnn.npz").predict_batch(digits)  # the same weights, here
    order = list(replicas)
    issued: set[int] = set()
    answers: dict[int, dict] = {}
    answered_by: dict[int, str] = {}
    retries = []
    numbers = itertools.count()
    stopped, after_stop = threading.Event(), [0]

    def ask(i: int) -> dict:
        """Round robin; a refused connection, a reset or a 503 is retried on the next replica."""
        for attempt in range(6):
            name = order[(i + attempt) % len(order)]
            try:
                answer = get_json(f"{replicas[name]}/predict", {"image": digits[i % 500].tolist()}, timeout=10)
                answered_by[i] = name
                return answer
            except urllib.error.HTTPError as e:
                if e.code != 503:
                    raise
            except OSError:  # refused or reset: that replica is going away
                pass
            retries.append((i, name))
            time.sleep(0.05)
        raise AssertionError(f"request {i} was not answered by any replica")

    def client() -> None:
        """Requests one after another until 120 have been sent since the stop ended."""
        while True:
            i = next(numbers)
            if (stopped.is_set() and i >= after_stop[0] + 120) or i > 20_000:
                return
            issued.add(i)
            answers[i] = ask(i)

    with ThreadPoolExecutor(max_workers=4) as pool:
        clients = [pool.submit(client) for _ in range(4)]
        while len(answers) < 100:  # the stream is flowing through both replicas
            time.sleep(0.01)
        engine.docker("stop", "--time", str(STOP_GRACE_SECONDS), "cnn-replica-b", timeout=60)
        after_stop[0] = next(numbers)  # every request numbered after this one was sent after the stop
        stopped.set()
        for c in clients:
            c.result()

    assert answers and set(answers) == issued  # nothing issued was lost
    assert all(answers[i]["label"] == expected[i % 500].argmax() for i in answers)  # every answer the network's
    assert all(np.allclose(answers[i]["probabilities"], expected[i % 500], atol=1e-6) for i in answers)
    served = {name: sum(1 for who in answered_by.values() if who == name) for name in order}
    assert served["cnn-replica-b"] >= 40, served  # it did serve its share before it stopped
    assert all(answered_by[i] == "cnn-replica-a" for i in issued if i > after_stop[0])  # then only a did
    state = json.loads(engine.docker("inspect", "-f", "{{json .State}}", "cnn-replica-b").stdout)
    assert state["ExitCode"] == 0, (state, engine.docker("logs", "cnn-replica-b").stderr)
    # The survivor counted exactly what it answered (its /metrics, as Prometheus would scrape it).
    time.sleep(1.1)  # past the one-second freshness of the metrics' text
    with urllib.request.urlopen(f"{replicas['cnn-replica-a']}/metrics", timeout=5) as response:
        text = response.read().decode()
    (line,) = [
        ln for ln in text.splitlines() if ln.startswith('cnn_http_requests_total{route="/predict",status="200"}')
    ]
    assert float(line.split()[-1]) == served["cnn-replica-a"]
    engine.docker("stop", "--time", str(STOP_GRACE_SECONDS), "cnn-replica-a", timeout=60)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "replicas.json").write_text(
        json.dumps({"requests": len(issued), "served": served, "retries": len(retries)}, indent=2) + "\n"
    )


def test_two_replicas_share_one_postgresql_for_the_class_drawings(engine: Engine, image: dict, postgres_server) -> None:
    """Two containers of the image against one PostgreSQL (a throwaway cluster on the host): saves
    to either are in one collection, a retry sent to the other replica is stored once, and the
    second replica to start finds the schema the first made."""
    from bench.postgres import fresh_database

    url = fresh_database(postgres_server)
    token = "container-teacher"
    options = (
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--env",
        f"CNN_DATABASE_URL={url}",
        "--env",
        f"CNN_TEACHER_TOKEN={token}",
    )
    a, b = (serve(engine, name, *options) for name in ("cnn-drawings-a", "cnn-drawings-b"))
    grid = [[0.0] * 28 for _ in range(4)] + [[0.0] * 13 + [1.0] * 2 + [0.0] * 13 for _ in range(20)]
    grid += [[0.0] * 28 for _ in range(4)]
    ids = {a: [], b: []}
    for i in range(40):
        replica = (a, b)[i % 2]
        ids[replica].append(get_json(f"{replica}/drawings", {"image": grid, "label": i % 10})["id"])
    key = {"Idempotency-Key": "one-save-two-replicas"}

    def save(replica: str) -> dict:
        data = json.dumps({"image": grid, "label": 1}).encode()
        headers = {"Content-Type": "application/json"} | key
        with urllib.request.urlopen(urllib.request.Request(f"{replica}/drawings", data, headers), timeout=5) as r:
            return json.loads(r.read())

    first, retried = save(a), save(b)
    assert retried["id"] == first["id"] and retried["repeated"]
    request = urllib.request.Request(f"{b}/drawings/summary", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as r:
        summary = json.loads(r.read())
    assert summary["total"] == 41 and summary["counts"] == [4, 5, 4, 4, 4, 4, 4, 4, 4, 4]
    assert len(set(ids[a]) | set(ids[b])) == 40
    for name in ("cnn-drawings-a", "cnn-drawings-b"):
        engine.docker("stop", "--time", str(STOP_GRACE_SECONDS), name, timeout=60)
        state = json.loads(engine.docker("inspect", "-f", "{{json .State}}", name).stdout)
        assert state["ExitCode"] == 0, (state, engine.docker("logs", name).stderr)
