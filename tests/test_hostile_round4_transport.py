"""Round 4 (issue 33, findings 1 and 2), against a real server process: a request's line and headers
are bounded in bytes and in number (431, the connection closed, the parser fed no more than the
bound), and an answer nobody reads is bounded in time (the write deadline) and in bytes (503 past
the budget, before the work), /v2's JSON feature maps in images, and the request log times an
answer to its last byte. Loopback only; every loop is bounded in count and time; no time is asserted
except against one taken in the same run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from bench.attacks import Server
from bench.round4 import (
    INFER,
    TRAILER,
    connect,
    many_headers,
    read_all,
    request,
    status_of,
    stream_header,
    unread,
    v2_images,
)

SMALL = {"inputs": [{"name": "image", "shape": [1, 784], "datatype": "UINT8", "data": [0] * 784}]}
SLOW_READERS = {  # 9.9 MB answers (256 images' feature maps as JSON), a 16 MiB budget, an 8 s deadline
    "CNN_MAX_JSON_MAP_IMAGES": "256",
    "CNN_ANSWER_BACKLOG_BYTES": str(16 * 2**20),
    "CNN_WRITE_TIMEOUT": "8",
    "CNN_POOL_WORKERS": "2",
}


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server()  # the documented defaults: 64 KiB and 100 headers
    yield s
    s.stop()


@pytest.fixture(scope="module")
def slow_readers() -> Iterator[Server]:
    s = Server(**SLOW_READERS)
    yield s
    s.stop()


def until(condition, seconds: float = 60) -> bool:
    """Whether condition() came true within `seconds` (a generous bound: it only ends a failing wait)."""
    ended = time.monotonic() + seconds
    while time.monotonic() < ended:
        if condition():
            return True
        time.sleep(0.2)
    return False


def log_lines(server: Server) -> list[dict]:
    return [json.loads(line) for line in server.output().splitlines() if line.startswith('{"method"')]


# --- finding 1: headers ---


def test_a_head_past_64_kib_gets_431_and_one_within_it_an_answer(server):
    with connect(server.port) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n")
        answer, _ = read_all(s)  # the server closed the connection: read_all returned
    assert status_of(answer) == 431, answer[:200]
    detail = json.loads(answer.split(b"\r\n\r\n", 1)[1])["detail"]
    assert "65,536 bytes" in detail and "100 headers" in detail
    with connect(server.port) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Long: " + b"a" * 60_000 + b"\r\n\r\n")
        assert status_of(read_all(s)[0]) == 200


def test_a_header_that_never_ends_is_cut_near_the_bound_not_read_whole(server):
    """48 MiB of one header: before, the server took every byte (and joined them, piece by piece, on
    the event loop); now it stops reading past the bound, and what the kernel's buffers and the
    lingering close take is a few megabytes."""
    before = server.cpu()
    status, taken = stream_header(server.port, 48 * 2**20)
    assert status in (431, "reset"), status
    assert taken < 16 * 2**20, taken
    assert server.cpu() - before < 2.0  # the whole stream, parsed, cost ~5 s of CPU per 48 MB before
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_a_trailer_that_never_ends_is_cut_near_the_bound(server):
    """Trailers (headers after a chunked body) are parsed as headers are: bounded as they are."""
    status, taken = stream_header(server.port, 48 * 2**20, TRAILER)
    assert status in ("closed", "reset"), status  # the request was being answered: cut, no 431
    assert taken < 16 * 2**20, taken


def test_more_headers_than_the_count_get_431(server):
    assert many_headers(server.port, 90) == 200  # with Host and Connection: 92
    assert many_headers(server.port, 101) == 431
    assert many_headers(server.port, 200_000) == 431


# --- finding 2: answers nobody reads ---


def test_an_answer_nobody_reads_is_cut_at_the_write_deadline(slow_readers):
    s, status = unread(slow_readers.port, v2_images(256))
    with s:
        assert status == 200
        assert until(lambda: any(line.get("cut") for line in log_lines(slow_readers))), "never cut"
        rest, _ = read_all(s)
    head, body = rest.split(b"\r\n\r\n", 1)
    length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")).split(b":")[1])
    assert len(body) < length  # the connection was closed before the answer's end: it holds nothing now


def test_unread_answers_past_the_budget_get_503_before_their_work(slow_readers):
    held, statuses = [], []
    try:
        for _ in range(10):  # 10 x 9.9 MB of answers against a budget of 16 MiB
            s, status = unread(slow_readers.port, v2_images(256))
            held.append(s)
            statuses.append(status)
        assert statuses.count(503) >= 6, statuses
        refused = httpx.post(slow_readers.url + INFER, json=SMALL)
        assert refused.status_code == 503 and refused.headers["retry-after"], refused.text
        assert "waiting for their clients" in refused.json()["error"]  # the protocol's error shape
        assert httpx.get(slow_readers.url + "/healthz").status_code == 200  # no work, no budget
    finally:
        for s in held:
            s.close()
    # the clients went away: their bytes are gone, the budget is free
    assert until(lambda: httpx.post(slow_readers.url + INFER, json=SMALL).status_code == 200)


def latency_sum(server: Server) -> float:
    """The latency histogram's sum for /v2's inference answered 200, from /metrics."""
    text = httpx.get(server.url + "/metrics").text
    prefix = 'cnn_http_request_duration_seconds_sum{route="/v2/models/{model_name}/infer",status="200"}'
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


def test_the_request_log_times_an_answer_to_its_last_byte(slow_readers):
    """The client waits 2 s after the answer's first bytes before reading the rest: the logged time
    and the latency histogram cover everything up to its reading (measured by the client in the same
    run, less a margin for the request's own trip), where before they ended when the answer was
    handed to the connection, before its first bytes arrived: 2 s short of that."""
    before = latency_sum(slow_readers)
    with connect(slow_readers.port) as s:  # it reads at loopback's speed, once it reads
        s.sendall(request(INFER, v2_images(256), headers=b"X-Request-ID: read-it-later\r\n"))
        sent = time.monotonic()
        assert status_of(s.recv(12)) == 200
        time.sleep(2)
        waited = time.monotonic() - sent - 0.5  # the margin: the request's trip, a fraction of it
        rest, reset = read_all_of_one_answer(s)
    assert not reset and rest
    assert until(lambda: any(line["request_id"] == "read-it-later" for line in log_lines(slow_readers)))
    line = next(line for line in log_lines(slow_readers) if line["request_id"] == "read-it-later")
    assert line["status"] == 200 and not line.get("cut")
    assert line["ms"] >= 1000 * waited, (line, waited)
    assert latency_sum(slow_readers) - before >= waited


def read_all_of_one_answer(s) -> tuple[bytes, bool]:
    """The rest of one keep-alive answer (its status line's 12 bytes were read): up to its length."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            data += s.recv(1 << 16)
        head, body = data.split(b"\r\n\r\n", 1)
        length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")).split(b":")[1])
        while len(body) < length:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            body += chunk
    except ConnectionResetError:
        return data, True
    return head + b"\r\n\r\n" + body, False


def test_feature_maps_as_json_are_bounded_in_images(client):
    def ask(n: int, **extra: object) -> httpx.Response:
        return client.post(INFER, content=v2_images(n, **extra), headers={"Content-Type": "application/json"})

    assert ask(16).status_code == 200  # the documented bound: 16 images' maps as JSON (about 620 KB)
    r = ask(17)
    assert r.status_code == 400 and "binary" in r.json()["error"], r.text[:300]
    r = ask(17, parameters={"binary_data_output": True})  # as tritonclient asks by default
    assert r.status_code == 200
    header = json.loads(r.content[: int(r.headers["inference-header-content-length"])])
    assert [o["name"] for o in header["outputs"]] == ["probabilities", "scores", "label", "C1", "P1", "C2", "P2"]
    r = ask(17, outputs=[{"name": "label"}, {"name": "probabilities"}])  # no maps: JSON, any batch
    assert r.status_code == 200 and np.asarray(r.json()["outputs"][0]["data"]).shape == (17,)
