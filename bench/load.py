"""Hold a concurrent load on POST /predict and check every answer against the network called directly.

    python bench/load.py [--requests 100000] [--concurrency 8] [--data-dir ../shared/mnist]

Starts `python -m app` (one worker, the committed weights) on a free port of 127.0.0.1, sends
MNIST test digits from `--concurrency` keep-alive connections until `--requests` answers are in,
and compares each answer with what app.api.service.Classifier computes in this process from the same
weights: the label exactly, the probabilities to 1e-6. Reports errors, wrong answers, latency
percentiles, requests per second and the server's resident memory (VmRSS) as the load goes on.
Exits 1 if any request failed or any answer was wrong.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.api.service import Classifier  # noqa: E402
from app.config import Settings  # noqa: E402
from bench.servers import free_port, wait_until_healthy  # noqa: E402
from model.mnist import load_mnist, to_float  # noqa: E402


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS")).split()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--distinct", type=int, default=1000, help="distinct test digits sent [%(default)s]")
    parser.add_argument("--data-dir", help="MNIST directory [$MNIST_DIR, else the download cache]")
    args = parser.parse_args()

    weights = Settings().weights
    clf = Classifier.load(weights)
    images = to_float(load_mnist(args.data_dir).test.images[: args.distinct], np.float64).round(4)
    bodies = [json.dumps({"image": image.tolist()}).encode() for image in images]
    expected = [clf.predict(image) for image in images]

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_healthy(port, server)
        lock = threading.Lock()
        counter = iter(range(10**12))
        latencies: list[float] = []
        errors: list[str] = []
        wrong: list[int] = []
        memory: list[tuple[int, int]] = []

        def worker() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while True:
                with lock:
                    n = next(counter)
                if n >= args.requests:
                    break
                i = n % len(bodies)
                started = time.perf_counter()
                try:
                    conn.request("POST", "/predict", bodies[i], {"Content-Type": "application/json"})
                    response = conn.getresponse()
                    payload = response.read()
                    elapsed = time.perf_counter() - started
                    if response.status != 200:
                        raise RuntimeError(f"HTTP {response.status}: {payload[:200]!r}")
                    answer = json.loads(payload)
                except Exception as e:  # noqa: BLE001 - every failure is counted, none stops the load
                    with lock:
                        errors.append(f"{type(e).__name__}: {e}")
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    continue
                ok = answer["label"] == expected[i].label and np.allclose(
                    answer["probabilities"], expected[i].probabilities, rtol=0, atol=1e-6
                )
                with lock:
                    latencies.append(elapsed)
                    if not ok:
                        wrong.append(i)
                    if n % 10_000 == 0:
                        memory.append((n, rss_kib(server.pid)))
            conn.close()

        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        memory.append((args.requests, rss_kib(server.pid)))
    finally:
        server.terminate()
        server.wait(timeout=30)

    lat = np.array(latencies) * 1000
    memory.sort()
    print(
        f"## load: {args.requests:,} POST /predict, {args.concurrency} connections, "
        f"{args.distinct} distinct MNIST test digits, one uvicorn worker; "
        f"{time.strftime('%Y-%m-%d %H:%M')}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
    )
    print("| requests | errors | wrong answers | requests/s | p50 | p90 | p99 | max |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {len(lat) + len(errors):,} | {len(errors)} | {len(wrong)} | {len(lat) / seconds:,.0f} | "
        f"{np.percentile(lat, 50):.1f} ms | {np.percentile(lat, 90):.1f} ms | {np.percentile(lat, 99):.1f} ms | "
        f"{lat.max():.1f} ms |\n"
    )
    print(
        "server memory (VmRSS) as the requests went by: "
        + ", ".join(f"{n:,}: {kib / 1024:.1f} MiB" for n, kib in memory)
    )
    if errors:
        print("first errors:", *errors[:5], sep="\n  ")
    return 1 if errors or wrong else 0


if __name__ == "__main__":
    sys.exit(main())
