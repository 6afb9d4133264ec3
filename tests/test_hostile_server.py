"""A hostile visitor against a real server process, within the documented limits.

Each test measures what the issue of 2026-11-29 asked to bound: CPU seconds and memory of the
server's whole process tree (server, fork server, workers), /healthz's latency while the pool
is full, 503 with Retry-After past the bound, deadlines for slow clients, the time to exit after
SIGTERM, and one answer for a request with conflicting framing. Every loop here is bounded in
count and time, and talks only to 127.0.0.1.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from bench.attacks import (
    Server,
    a_one,
    costly_png,
    healthz_seconds,
    png,
    predict_is_right,
    progressive_jpeg_with_empty_scans,
    upload,
)
from bench.servers import process_tree

SETTINGS = {  # small bounds, so that each is reached quickly
    "CNN_POOL_WORKERS": "2",
    "CNN_POOL_WAITING": "2",
    "CNN_JOB_CPU_SECONDS": "1",
    "CNN_HEADER_TIMEOUT": "1",
    "CNN_BODY_TIMEOUT": "3",
    "CNN_SHUTDOWN_TIMEOUT": "2",
    "CNN_WORKER_MEMORY_BYTES": str(512 * 2**20),
}


def small_server(**env: str) -> Server:
    return Server(**{**SETTINGS, **env})


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = small_server()
    yield s
    s.stop()


def quiet_seconds(server: Server) -> float:
    """/healthz's median latency from the idle server, in this run: the machine's own pace, busy or not."""
    return sorted(healthz_seconds(server) for _ in range(9))[4]


def assert_answers_in_milliseconds(latencies: list[float], quiet: float) -> None:
    """/healthz's latencies under an attack: milliseconds as a rule (the median), and never the
    seconds a stalled loop costs (the max). Both bounds grow with `quiet`, the idle latency measured
    on the same server just before (5x and 25x), since a busy machine slows every answer: at a load
    of 17 the first under attack took 1.37 s with `quiet` 66 ms, and a fixed 50 ms median failed the
    whole suite's run on main at 83 ms (issue 33). A stalled loop's seconds still stand out."""
    median = sorted(latencies)[len(latencies) // 2]
    assert median < 0.05 + 5 * quiet and max(latencies) < 0.5 + 25 * quiet, (latencies, quiet)


# --- CPU ---


def test_a_jpeg_of_thousands_of_scans_is_refused_before_decoding(server):
    data = progressive_jpeg_with_empty_scans(20_000)
    before = server.cpu()
    r = upload(server, data)
    assert r.status_code == 422 and "scans" in r.json()["detail"], r.text
    assert server.cpu() - before < 0.5  # it cost two minutes of CPU before
    assert predict_is_right(server)


def test_an_upload_costs_at_most_its_cpu_budget_and_the_worker_is_replaced():
    server = small_server(CNN_JOB_CPU_SECONDS="0.1")
    try:
        before = server.cpu()
        r = upload(server, costly_png())
        spent = server.cpu() - before
        assert r.status_code == 422 and "more work than one request may take" in r.json()["detail"], r.text[:200]
        # 0.1 s of budget, plus reading the body and starting a worker in its place (a fork, the weights)
        assert spent < 0.6, spent
        seven = np.full((280, 280), 255, np.uint8)
        seven[40:60, 60:220], seven[60:240, 180:200] = 0, 0
        for _ in range(3):  # the pool serves on, with a fresh worker
            assert upload(server, png(seven)).status_code == 200
    finally:
        server.stop()


def test_a_client_that_hangs_up_stops_its_work(server):
    data = costly_png()
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n' + data + b"\r\n--b--\r\n"
    head = (
        f"POST /predict/image HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            s.sendall(head + body)
            time.sleep(0.1)  # the worker has started decoding
        # hung up: the worker is killed, not left to run out its budget
    time.sleep(0.3)
    before = server.cpu()
    time.sleep(1.0)
    assert server.cpu() - before < 0.3
    assert predict_is_right(server)


# --- memory and backpressure ---


def test_a_burst_of_16_bit_pngs_stays_within_bounded_memory(server):
    huge = png((np.arange(4096 * 4096, dtype=np.uint32) % 65536).astype(np.uint16).reshape(4096, 4096))
    peak, statuses = server.memory(), []
    with ThreadPoolExecutor(40) as pool:
        futures = [pool.submit(upload, server, huge, 60) for _ in range(40)]
        while not all(f.done() for f in futures):
            peak = max(peak, server.memory())
            time.sleep(0.02)
        statuses = [f.result().status_code for f in futures]
    assert set(statuses) <= {200, 422, 503}, statuses  # never 500
    assert statuses.count(503) > 0  # more than the pool and its queue hold: refused at once
    assert peak < 2 * 2**30, peak / 2**20  # two workers of 512 MiB at most, and the server
    assert predict_is_right(server)


def test_past_the_bound_the_answer_is_a_fast_503_with_retry_after_and_healthz_stays_fast(server):
    quiet = quiet_seconds(server)
    data = costly_png()
    with ThreadPoolExecutor(12) as pool:
        futures = [pool.submit(upload, server, data, 60) for _ in range(12)]
        time.sleep(0.5)  # the two workers are busy and two requests wait
        latencies = [healthz_seconds(server) for _ in range(20)]
        responses = [f.result() for f in futures]
    refused = [r for r in responses if r.status_code == 503]
    assert refused and all(r.headers["retry-after"] == "1" for r in refused)
    assert all(r.elapsed.total_seconds() < 1.0 for r in refused)  # refused at once, not queued
    assert_answers_in_milliseconds(latencies, quiet)
    assert predict_is_right(server)


def test_a_worker_out_of_memory_answers_503_not_500():
    s = small_server(CNN_WORKER_MEMORY_BYTES=str(64 * 2**20), CNN_JOB_CPU_SECONDS="5")
    try:
        huge = png((np.arange(4096 * 4096, dtype=np.uint32) % 65536).astype(np.uint16).reshape(4096, 4096))
        r = upload(s, huge)
        assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
        assert "memory" in r.json()["detail"] or "worker" in r.json()["detail"]
        assert predict_is_right(s)
    finally:
        s.stop()


# --- the event loop ---


def test_eight_megabytes_of_unknown_keys_cost_one_error_and_do_not_stall_the_loop(server):
    quiet = quiet_seconds(server)
    body = (
        b'{"image": ' + json.dumps(a_one()).encode() + b"," + b",".join(b'"%07d":0' % i for i in range(600_000)) + b"}"
    )
    assert len(body) < 8 * 2**20

    def send() -> httpx.Response:
        return httpx.post(
            server.url + "/predict", content=body, headers={"Content-Type": "application/json"}, timeout=60
        )

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(send) for _ in range(4)]
        time.sleep(0.3)
        latencies = [healthz_seconds(server) for _ in range(10)]
        responses = [f.result() for f in futures]
    for r in responses:
        assert r.status_code in (422, 503), r.text
        if r.status_code == 422:  # one error, or the job's CPU budget (1 s here: the parse took
            # 1.0 s of CPU in-process at a load of 17, where CPU time itself stretches)
            detail = r.json()["detail"]
            assert detail.startswith(("unknown field '0000000'", "this input needs more work")) and len(r.text) < 300
    assert_answers_in_milliseconds(latencies, quiet)  # it froze the server for 22 s before
    assert predict_is_right(server)


def test_large_drawings_are_parsed_off_the_loop(server):
    quiet = quiet_seconds(server)
    drawing = json.dumps({"image": [[0.5] * 1024] * 1024, "normalize": True}).encode()
    with ThreadPoolExecutor(8) as pool:
        futures = [
            pool.submit(
                httpx.post,
                server.url + "/predict",
                content=drawing,
                headers={"Content-Type": "application/json"},
                timeout=60,
            )
            for _ in range(8)
        ]
        time.sleep(0.2)
        latencies = [healthz_seconds(server) for _ in range(10)]
        statuses = [f.result().status_code for f in futures]
    assert set(statuses) <= {200, 503} and 200 in statuses
    assert_answers_in_milliseconds(latencies, quiet)


# --- slow and idle clients, connections ---


def test_clients_that_stall_mid_body_hold_a_bounded_amount_of_memory():
    s = small_server(CNN_BODIES_IN_FLIGHT_BYTES=str(32 * 2**20))
    stalled = []
    try:
        before = s.memory()
        statuses = []
        for _ in range(60):  # each declares 8 MiB - 1 and sends 1 MiB of it
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(
                b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % (8 * 2**20 - 1) + b" " * 2**20
            )
            stalled.append(c)
        time.sleep(0.5)
        for c in stalled:
            c.settimeout(0.05)
            try:
                statuses.append(c.recv(12))
            except TimeoutError:
                statuses.append(b"(waiting)")
        grown = s.memory() - before
        # the bytes that arrived are counted (not the 8 MiB each declares): 32 of them fit the 32 MiB budget
        assert statuses.count(b"HTTP/1.1 503") >= 60 - 33, statuses
        assert grown < 64 * 2**20, grown / 2**20  # 1.6 GB before: the bodies were held with no limit
        assert predict_is_right(s)
    finally:
        for c in stalled:
            c.close()
        s.stop()


@pytest.mark.parametrize(
    "sent, what, deadline",
    [
        (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-", "headers", 1),  # CNN_HEADER_TIMEOUT
        (
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
            b'{"image": [[0.0',
            "body",
            3,
        ),  # CNN_BODY_TIMEOUT
    ],
    ids=["half-sent headers", "half-sent body"],
)
def test_a_request_that_does_not_arrive_in_time_gets_408_and_is_closed(server, sent, what, deadline):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(sent)
        started = time.monotonic()
        answer = s.recv(4096)
        waited = time.monotonic() - started
        closed = s.recv(4096) == b""
    assert answer.startswith(b"HTTP/1.1 408") and f"the request {what} did not arrive".encode() in answer, answer
    assert closed
    assert deadline - 0.2 < waited < deadline + 2


def test_a_thousand_idle_connections_do_not_stop_others_being_answered(server):
    idle = []
    try:
        for _ in range(1000):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        started = time.monotonic()
        assert predict_is_right(server)
        assert time.monotonic() - started < 2
    finally:
        for s in idle:
            s.close()
    assert predict_is_right(server)


def test_past_the_connection_bound_the_answer_is_503():
    s = small_server(CNN_MAX_CONNECTIONS="20")
    idle = []
    try:
        idle = [socket.create_connection(("127.0.0.1", s.port), timeout=10) for _ in range(20)]
        time.sleep(0.2)
        r = httpx.post(s.url + "/predict", json={"image": a_one()}, timeout=10)
        assert r.status_code == 503
        for c in idle:
            c.close()
        time.sleep(0.2)
        assert predict_is_right(s)
    finally:
        for c in idle:
            c.close()
        s.stop()


def test_conflicting_framing_gets_one_400_and_the_connection_closed(server):
    smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    request = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
        + str(5 + len(smuggled)).encode()
        + b"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        + smuggled
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(request)
        answers = b""
        try:
            while chunk := s.recv(65536):
                answers += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    assert answers.startswith(b"HTTP/1.1 400")
    assert answers.count(b"HTTP/1.1 ") == 1  # the bytes after the empty chunk never ran as a request


# --- shutdown ---


def test_sigterm_with_slow_uploads_in_flight_exits_within_the_bound():
    s = small_server()
    stalled = []
    try:
        for _ in range(20):  # uploads that send half their body, then nothing
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(
                b"POST /predict/image HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                b"Content-Length: 100000\r\n\r\n--b\r\n"
            )
            stalled.append(c)
        finished: list[int] = []
        fast = threading.Thread(
            target=lambda: finished.append(
                httpx.post(s.url + "/predict", json={"image": a_one()}, timeout=10).status_code
            )
        )
        fast.start()
        time.sleep(0.3)
        started = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        code = s.proc.wait(timeout=15)
        took = time.monotonic() - started
        fast.join(5)
    finally:
        for c in stalled:
            c.close()
        s.stop()
    assert took < 2 + 3, took  # CNN_SHUTDOWN_TIMEOUT=2, well below Docker's 10 s
    assert code in (0, -signal.SIGTERM)
    assert finished == [200]


def test_two_server_processes_each_with_its_pool_serve_and_stop_within_the_bound():
    s = small_server(CNN_WORKERS="2", CNN_POOL_WORKERS="1")
    try:
        seven = np.full((280, 280), 255, np.uint8)
        seven[40:60, 60:220], seven[60:240, 180:200] = 0, 0
        with ThreadPoolExecutor(8) as pool:
            uploads = [pool.submit(upload, s, png(seven)) for _ in range(8)]
            predictions = [pool.submit(predict_is_right, s) for _ in range(16)]
            assert all(f.result() for f in predictions)
            assert {f.result().status_code for f in uploads} <= {200, 503}
        workers = len(process_tree(s.proc.pid))
        assert workers >= 7  # supervisor, 2 server processes, and each one's fork server and pool worker
        started = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(timeout=15) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 5
    finally:
        s.stop()


def test_the_heaviest_lab_requests_at_once_leave_the_loop_free(server):
    """/train at its bound, /nudge running all its 200 steps (a blank drawing may only lose ink: the
    target never wins), /check and /equation: twelve at once, within the documented limits."""
    quiet = quiet_seconds(server)
    blank = [[0.0] * 28 for _ in range(28)]
    bodies = [
        ("/train", {"recipe": "article", "seed": 0, "steps": 1024}),
        ("/train", {"recipe": "ours", "seed": 1, "steps": 16}),
        ("/nudge", {"image": blank, "target": 8, "mode": "remove", "max_steps": 200}),
        ("/check", {"image": blank, "label": 3, "gradient": "dLk1", "index": [5, 4, 4]}),
        ("/equation", {"image": blank, "label": 3, "kind": "dLk1", "index": [5, 4, 4]}),
        ("/nudge", {"image": blank, "target": 2, "mode": "remove", "max_steps": 200}),
    ] * 2
    with ThreadPoolExecutor(12) as pool:
        futures = [pool.submit(httpx.post, server.url + path, json=body, timeout=60) for path, body in bodies]
        time.sleep(0.2)
        latencies = [healthz_seconds(server) for _ in range(10)]
        answers = [f.result() for f in futures]
    assert {a.status_code for a in answers} <= {200, 429, 503} and 200 in {a.status_code for a in answers}
    for (path, _), a in zip(bodies, answers, strict=True):
        if path == "/nudge" and a.status_code == 200:
            assert a.json()["steps"] == 200 and not a.json()["reached"]
    assert_answers_in_milliseconds(latencies, quiet)
    assert predict_is_right(server)
