"""A catalogue of hostile inputs and faults. Each gets its clear 4xx (or a correct answer), and the
service answers the next good request. Socket-level cases run against a real server process."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

import model
from app.config import Settings
from app.main import StartupError, create_app
from bench.servers import free_port, start_app, wait_until_healthy
from model.mnist import to_float
from tests.conftest import ROOT, WEIGHTS


@pytest.fixture(scope="module")
def settings():
    return Settings(weights=WEIGHTS, max_body_bytes=2_000_000)


@pytest.fixture(scope="module")
def seven(mnist) -> np.ndarray:
    """An MNIST test 7 as 0..255 ink on white paper, 4x larger: what a person's canvas holds."""
    ink = mnist.test.images[0]
    assert mnist.test.labels[0] == 7
    return 255 - np.kron(ink, np.ones((4, 4), np.uint8))


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def assert_still_serving(client: TestClient) -> None:
    grid = np.zeros((28, 28))
    grid[4:24, 13:15] = 1
    r = client.post("/predict", json={"image": grid.tolist()})
    assert r.status_code == 200 and r.json()["label"] == 1


def image_cases(seven: np.ndarray) -> dict[str, Image.Image]:
    grey = Image.fromarray(seven.astype(np.uint8))
    alpha_only = np.zeros((*seven.shape, 4), np.uint8)
    alpha_only[..., 3] = 255 - seven  # black strokes that exist only in the alpha channel
    frames = [grey, Image.fromarray(np.full_like(seven, 255).astype(np.uint8))]
    return {
        "CMYK JPEG": grey.convert("CMYK"),
        "16-bit PNG": Image.fromarray(seven.astype(np.uint16) * 257).convert("I;16"),
        "palette PNG": grey.convert("P", palette=Image.Palette.ADAPTIVE, colors=16),
        "alpha-only PNG": Image.fromarray(alpha_only, "RGBA"),
        "animated GIF": frames,
    }


@pytest.mark.parametrize("name", ["CMYK JPEG", "16-bit PNG", "palette PNG", "alpha-only PNG", "animated GIF"])
def test_unusual_but_valid_images_are_read_right(client, seven, name):
    image = image_cases(seven)[name]
    if name == "animated GIF":  # the first frame is the digit, the second is blank
        data = encode(image[0], "GIF", save_all=True, append_images=image[1:], duration=100, loop=0)
    else:
        data = encode(image, "JPEG" if "JPEG" in name else "PNG")
    r = client.post("/predict/image", files={"file": ("digit", data)})
    assert r.status_code == 200, r.text
    assert r.json()["label"] == 7
    assert_still_serving(client)


def test_a_png_named_and_typed_as_something_else_is_read_by_its_content(client, seven):
    data = encode(Image.fromarray(seven.astype(np.uint8)), "PNG")
    r = client.post("/predict/image", files={"file": ("digit.jpg", data, "text/plain")})
    assert r.status_code == 200 and r.json()["label"] == 7


def test_a_malformed_multipart_upload_is_a_clear_422(client):
    boundary = "b0undary"
    body = f"--{boundary}\r\n[0.0]--{boundary}--\r\n".encode()  # a part without headers (found by the fuzzer)
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    r = client.post("/predict/image", content=body, headers=headers)
    assert r.status_code == 422 and "multipart/form-data" in r.json()["detail"]
    assert client.get("/nope").status_code == 404 and client.get("/predict").status_code == 405
    assert_still_serving(client)


@pytest.mark.parametrize("pixel", [0, 255])
def test_a_1x1_image_is_a_blank_drawing(client, pixel):
    data = encode(Image.fromarray(np.full((1, 1), pixel, np.uint8)), "PNG")
    r = client.post("/predict/image", files={"file": ("one.png", data)})
    assert r.status_code == 422 and "blank" in r.json()["detail"]
    assert_still_serving(client)


ROW = [0.0] * 28


@pytest.mark.parametrize(
    "name, body, message",
    [
        ("empty body", b"", "not valid JSON"),
        ("JSON null", b"null", "should be an object"),
        ("a bare list", b"[[0.5]]", "should be an object"),
        ("28x29 grid", json.dumps({"image": [[0.0] * 29] * 28}).encode(), "got 28 rows of 29"),
        ("27x28 grid", json.dumps({"image": [ROW] * 27}).encode(), "got 27 rows of 28"),
        ("one level too deep", json.dumps({"image": [[ROW]] * 28}).encode(), "valid number"),
        ("one level too shallow", json.dumps({"image": 0.5}).encode(), "valid array"),
        ("a huge number", json.dumps({"image": [[1e308] * 28] * 28}).encode(), "[0, 1]"),
        (
            "a number beyond float",
            b'{"image": [' + b",".join([b"[" + b",".join([b"1e400"] * 28) + b"]"] * 28) + b"]}",
            "finite",
        ),
        ("a 400-digit integer", b'{"image": [[' + b"9" * 400 + b"]]}", "number"),
        ("deeply nested", b'{"image": ' + b"[" * 5000 + b"]" * 5000 + b"}", ""),
        ("not UTF-8", b'{"image": "\xff\xfe"}', ""),
    ],
)
def test_hostile_json_gets_a_clear_422(client, name, body, message):
    r = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert message in r.json()["detail"]
    assert_still_serving(client)


@pytest.mark.parametrize(
    "path, body, detail",
    [
        ("/predict", {"image": [["x"] * 600] * 600, "normalize": True}, "image.0.0: Input should be a valid number"),
        (
            "/predict",
            {"image": {"shape": ["x"] * 300_000, "float16": ""}},
            "image.shape.0: Input should be a valid integer",
        ),
        ("/predict/batch", {"images": [[["x"]]] * 200_000}, "images.0.0.0: Input should be a valid number"),
    ],
    ids=["a drawing of 360,000 strings", "a shape of 300,000 strings", "200,000 grids of a string"],
)
def test_a_list_of_bad_values_gets_one_error_not_one_per_value(client, path, body, detail):
    # Pydantic would list every bad value: a 1024x1024 drawing of strings kept the worker busy for
    # 11 s, a shape of 1.5 million strings for 13.5 s. Every list a request holds now stops at the first.
    r = client.post(path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"] == detail  # the first, alone
    assert_still_serving(client)


def test_truncated_and_tampered_weights_stop_start_up_with_a_clear_message(tmp_path):
    good = model.CNN.random(seed=1).save(tmp_path / "good", {})
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:1000])
    (tmp_path / "truncated.json").write_text(good.with_suffix(".json").read_text())
    tampered = tmp_path / "tampered.npz"
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    (tmp_path / "tampered.json").write_text(good.with_suffix(".json").read_text())
    for path, says in ((truncated, "SHA-256"), (tampered, "SHA-256"), (tmp_path / "absent.npz", "absent")):
        with pytest.raises(StartupError, match="cannot start") as e, TestClient(create_app(Settings(weights=path))):
            pass
        assert says in str(e.value) or "not found" in str(e.value) or "does not exist" in str(e.value), str(e.value)
    with TestClient(create_app(Settings(weights=good))) as c:  # and the good one starts
        assert c.get("/healthz").status_code == 200


def test_no_path_leads_out_of_the_static_directory(client):
    for path in (
        "/../app/config.py",
        "/..%2fapp%2fconfig.py",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/js/../../weights/cnn.json",
        "/static/../../pyproject.toml",
        "//etc/passwd",
        "/js/%2e%2e%2f%2e%2e%2fpyproject.toml",
    ):
        r = client.get(path)
        assert r.status_code in (404, 400), (path, r.status_code)
        assert b"[project]" not in r.content and b"root:" not in r.content and b"sha256" not in r.content


def test_cors_is_same_origin_unless_origins_are_listed(tmp_path):
    ask = {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"}
    with TestClient(create_app(Settings(weights=WEIGHTS))) as c:
        r = c.options("/predict", headers=ask)
        assert "access-control-allow-origin" not in r.headers
        assert "access-control-allow-origin" not in c.get("/healthz", headers={"Origin": ask["Origin"]}).headers
    with TestClient(create_app(Settings(weights=WEIGHTS, cors_origins=("https://elsewhere.example",)))) as c:
        r = c.options("/predict", headers=ask)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://elsewhere.example"
        r = c.options("/predict", headers={**ask, "Origin": "https://evil.example"})
        assert r.headers.get("access-control-allow-origin") != "https://evil.example"


def test_every_answer_carries_the_security_headers(client):
    for path in ("/", "/js/main.js", "/healthz", "/nope"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp


# --- a real server process: bytes on the wire, slow clients, SIGTERM ---


@pytest.fixture
def server():
    """`python -m app` in its own process, with a 1 MB body limit."""
    port = free_port()
    env = {**os.environ, "CNN_MAX_BODY_BYTES": "1000000", "PYTHONUNBUFFERED": "1"}
    proc = start_app(
        port, "--log-level", "warning", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    wait_until_healthy(port, proc)
    yield proc, port
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def good_request(port: int) -> dict:
    grid = np.zeros((28, 28))
    grid[4:24, 13:15] = 1
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict",
        json.dumps({"image": grid.tolist()}).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


def raw(port: int, head: bytes, body: bytes = b"", timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head + body)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


def test_a_body_claiming_10_gb_is_refused_at_once_without_being_read(server):
    _, port = server
    started = time.monotonic()
    head = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10000000000\r\nConnection: close\r\n\r\n"
    )
    answer = raw(port, head, b'{"image": [[0.0')  # then nothing more: the server must not wait for 10 GB
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - started < 5
    assert good_request(port)["label"] == 1


def test_a_chunked_body_over_the_limit_is_cut_off_while_it_streams(server):
    proc, port = server
    rss = lambda: int(next(x for x in open(f"/proc/{proc.pid}/status") if x.startswith("VmRSS")).split()[1])  # noqa: E731
    before = rss()
    chunk = b"[" + b"0.0," * 16000 + b"0.0],"
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        sent = 0
        try:
            while sent < 50_000_000:  # 50 MB offered; the limit is 1 MB
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.settimeout(5)
        try:
            answer = s.recv(4096)
        except (TimeoutError, ConnectionResetError):
            answer = b""
    assert sent < 50_000_000 or answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert rss() - before < 30_000  # kB: the refused body was never held in memory
    assert good_request(port)["label"] == 1


def test_slow_and_dropped_connections_do_not_stop_the_service(server):
    _, port = server
    stalled = []
    for _ in range(20):  # clients that send half their headers, then nothing
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-")
        stalled.append(s)
    for _ in range(10):  # clients that hang up halfway through their body
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(
                b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 5000\r\n\r\n{"image": [[0.0, 0.0'
            )
    started = time.monotonic()
    assert good_request(port)["label"] == 1
    assert time.monotonic() - started < 2
    for s in stalled:
        s.close()
    assert good_request(port)["label"] == 1


def test_sigterm_lets_requests_in_flight_finish(server):
    proc, port = server
    big = np.zeros((3000, 3000), np.uint8) + 255  # a large canvas: decoding it takes a moment
    big[800:2200, 1400:1600] = 0
    data = encode(Image.fromarray(big), "PNG")
    answers: list[int] = []

    def upload() -> None:
        boundary = "b0undary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\n'
                f"Content-Type: image/png\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict/image",
            body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        with urllib.request.urlopen(request, timeout=30) as r:
            answers.append(json.loads(r.read())["label"])

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.15)  # the uploads are in flight
    proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(timeout=60)
    # uvicorn finishes what is in flight, then re-raises the SIGTERM it caught (so -15, or 0 as PID 1).
    assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    assert answers == [1, 1, 1, 1]  # all four were answered, after the SIGTERM


WRITER = """
import sys, numpy as np
from pathlib import Path
import model
from model.training.checkpoints import save_checkpoint
from model.training.recipes import Recipe
out = Path(sys.argv[1])
for i in range(10**6):
    net = model.CNN.random(seed=i % 7)
    net.save(out / "w", {"generation": i})
    save_checkpoint(out / "w.ckpt.npz", Recipe(), net, {k: v * 0 for k, v in net.params.items()}, i, [])
"""


def test_killing_the_writer_midway_leaves_whole_files(tmp_path):
    from model.training.checkpoints import load_checkpoint
    from model.training.recipes import Recipe

    for attempt in range(8):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], cwd=ROOT)
        while not (tmp_path / "w.ckpt.npz").exists():
            time.sleep(0.01)
        time.sleep(0.05 + 0.037 * attempt)  # somewhere in the middle of some write
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        net = model.load(tmp_path / "w.npz")  # verifies the SHA-256 against the metadata beside it
        assert net.params["k1"].shape == (6, 5, 5)
        load_checkpoint(tmp_path / "w.ckpt.npz", Recipe())
        # At most the debris of the write that was killed: a temporary file or a pending .npz.
        assert all(p.suffix in (".npz", ".json", ".tmp", ".pending") for p in tmp_path.iterdir())


def test_the_canvas_digit_helper_is_a_seven(seven):
    assert to_float(255 - seven[::4, ::4]).max() == 1  # the fixture itself: MNIST ink, inverted
