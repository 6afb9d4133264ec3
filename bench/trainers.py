"""/predict's latency while visitors train: none, then four concurrent trainers looping POST /train.

    python bench/trainers.py [--requests 2000] [--trainers 4]

Starts `python -m app` with its defaults, then sends --requests /predict requests (a 28x28 grid,
one at a time from one client, as the page does) with no trainer running, and again while
--trainers threads each loop the article's recipe at 1,024 steps a request, as the page's
"Start" does. Prints p50, p99 and max of /predict, the trainers' requests and how many of them
were told 429 (too many trainers at once).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.attacks import Server  # noqa: E402

GRID = {"image": [[0.0] * 28 for _ in range(28)]}
for r in range(6, 22):
    GRID["image"][r][13] = GRID["image"][r][14] = 1.0  # a 1


def predict_latencies(url: str, n: int) -> list[float]:
    with httpx.Client(base_url=url, timeout=30) as c:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            assert c.post("/predict", json=GRID).status_code == 200
            out.append(time.perf_counter() - t)
        return out


def trainer(url: str, stop: threading.Event, counts: dict[int, int]) -> None:
    with httpx.Client(base_url=url, timeout=60) as c:
        body = {"recipe": "article", "seed": 0, "steps": 1024}
        while not stop.is_set():
            r = c.post("/train", json=body)
            counts[r.status_code] = counts.get(r.status_code, 0) + 1
            if r.status_code == 200:
                body = {"resume": r.json()["resume"], "steps": 1024}
            else:
                time.sleep(float(r.headers.get("retry-after", 1)))


def summary(latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    return f"{1000 * statistics.median(latencies):.1f} | {1000 * q[98]:.1f} | {1000 * max(latencies):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--trainers", type=int, default=4)
    args = parser.parse_args()
    server = Server()
    try:
        predict_latencies(server.url, 200)  # warm up
        quiet = predict_latencies(server.url, args.requests)
        stop, counts = threading.Event(), {}
        threads = [threading.Thread(target=trainer, args=(server.url, stop, counts)) for _ in range(args.trainers)]
        for t in threads:
            t.start()
        time.sleep(2)
        busy = predict_latencies(server.url, args.requests)
        stop.set()
        for t in threads:
            t.join()
    finally:
        server.stop()
    print(f"{args.requests} /predict requests, one at a time; the server with its defaults\n")
    print("| trainers | /predict p50 ms | p99 ms | max ms |")
    print("|---:|---:|---:|---:|")
    print(f"| 0 | {summary(quiet)} |")
    print(f"| {args.trainers} | {summary(busy)} |")
    print(f"\n/train answers while measuring: {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    main()
