"""The hostile visitor's attacks against a real `python -m app` (default settings), measured.

    python bench/hostile.py [--root OTHER_CHECKOUT] [--timeout 60]

With --root, the server is that checkout's `python -m app` (to measure an older version beside
this one); each request gives up after --timeout seconds ("timeout" in the table).

Prints a Markdown table for docs/RELIABILITY.md: each attack, what bounds it, and what it cost the
server's whole process tree (CPU seconds, peak resident memory) or the other clients (/healthz's
worst latency while it runs). Everything talks to 127.0.0.1 only, and every loop is bounded.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.attacks import (  # noqa: E402
    Server,
    a_one,
    costly_png,
    png,
    progressive_jpeg_with_empty_scans,
    upload,
)

# /healthz asked every 20 ms from a process of its own: in the attacker's process its latency would
# include waiting for that process's GIL.
PROBE = """
import sys, time, urllib.request
while True:
    started = time.perf_counter()
    try:
        urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=10).read()
        print(time.perf_counter() - started, flush=True)
    except OSError:
        print(10.0, flush=True)
    time.sleep(0.02)
"""


def measure(server: Server, attack: Callable[[], list[int | str]]) -> tuple[list[int | str], float, float, str]:
    """Run attack() while sampling the tree's memory and /healthz: (statuses, CPU s, peak MiB, healthz ms)."""
    cpu0, peak = server.cpu(), server.memory()
    probe = subprocess.Popen([sys.executable, "-c", PROBE, server.url], stdout=subprocess.PIPE, text=True)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(attack)
        while not future.done():
            peak = max(peak, server.memory())
            time.sleep(0.02)
        statuses = future.result()
    probe.terminate()
    latencies = sorted(float(line) * 1e3 for line in probe.communicate()[0].split()) or [float("nan")]
    healthz = f"{statistics.median(latencies):.1f} / {latencies[-1]:.0f} ms"
    return statuses, server.cpu() - cpu0, peak / 2**20, healthz


def burst(n: int, send: Callable[[], httpx.Response]) -> Callable[[], list[int | str]]:
    def status(future: Future[httpx.Response]) -> int | str:
        try:
            return future.result().status_code
        except httpx.TimeoutException:
            return "timeout"
        except httpx.HTTPError as e:
            return type(e).__name__

    def attack() -> list[int | str]:
        with ThreadPoolExecutor(n) as pool:
            return [status(f) for f in [pool.submit(send) for _ in range(n)]]

    return attack


def summary(statuses: list[int | str]) -> str:
    return ", ".join(f"{statuses.count(s)}x {s}" for s in sorted(set(statuses), key=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, help="serve this checkout instead")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    if args.root:
        Server.root = args.root.resolve()
    server = Server()
    timeout = args.timeout
    url = server.url
    jpeg = progressive_jpeg_with_empty_scans(20_000)
    costly = costly_png()
    sixteen = png((np.arange(4096 * 4096, dtype=np.uint32) % 65536).astype(np.uint16).reshape(4096, 4096))
    keys = (
        b'{"image": ' + json.dumps(a_one()).encode() + b"," + b",".join(b'"%07d":0' % i for i in range(600_000)) + b"}"
    )
    drawing = json.dumps({"image": [[0.5] * 1024] * 1024, "normalize": True}).encode()
    batch = json.dumps(
        {"images": [(np.random.default_rng(0).random((120, 120)) > 0.7).astype(int).tolist()] * 256, "normalize": True},
        separators=(",", ":"),
    ).encode()

    def post(path: str, body: bytes) -> Callable[[], httpx.Response]:
        headers = {"Content-Type": "application/json"}
        return lambda: httpx.post(url + path, content=body, headers=headers, timeout=timeout)

    rows = [
        (
            f"progressive JPEG, 20,000 empty scans ({len(jpeg) // 1000} KB), 1 upload",
            burst(1, lambda: upload(server, jpeg, timeout)),
        ),
        (
            f"PNG 4096x4096 of noise ({len(costly) / 1e6:.1f} MB), 40 at once",
            burst(40, lambda: upload(server, costly, timeout)),
        ),
        (
            f"16-bit PNG 4096x4096 ({len(sixteen) // 1000} KB), 40 at once",
            burst(40, lambda: upload(server, sixteen, timeout)),
        ),
        ("8 MB of unknown keys on /predict, 8 at once", burst(8, post("/predict", keys))),
        ("1024x1024 JSON drawing to normalise (5 MB), 16 at once", burst(16, post("/predict", drawing))),
        (
            f"batch of 256 normalised 120x120 drawings ({len(batch) / 1e6:.1f} MB), 16 at once",
            burst(16, post("/predict/batch", batch)),
        ),
    ]
    print("| attack | answers | server tree CPU | peak memory of the tree | /healthz while it ran, median / max |")
    print("|---|---|---:|---:|---:|")
    for name, attack in rows:
        statuses, cpu, peak, worst = measure(server, attack)
        print(f"| {name} | {summary(statuses)} | {cpu:.1f} s | {peak:.0f} MiB | {worst} |", flush=True)

    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(1000)]
    started = time.perf_counter()
    ok = httpx.post(url + "/predict", json={"image": a_one()}).json()["label"] == 1
    print(
        f"| 1,000 idle connections held open | a good /predict: {'right' if ok else 'WRONG'} | | | "
        f"{(time.perf_counter() - started) * 1e3:.1f} ms |"
    )
    for s in idle:
        s.close()

    stalled = []
    for _ in range(20):
        c = socket.create_connection(("127.0.0.1", server.port))
        c.sendall(
            b"POST /predict/image HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 8000000\r\n\r\n--b\r\n"
        )
        stalled.append(c)
    time.sleep(0.5)
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    try:
        code = server.proc.wait(timeout=30)
        print(
            f"| SIGTERM with 20 stalled 8 MB uploads | exit code {code} | | | exited after "
            f"{time.monotonic() - started:.1f} s |"
        )
    except subprocess.TimeoutExpired:
        print("| SIGTERM with 20 stalled 8 MB uploads | still running after 30 s (killed) | | | |")
    for c in stalled:
        c.close()
    server.stop()


if __name__ == "__main__":
    main()
