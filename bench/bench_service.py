"""The service under a bounded concurrent load on 127.0.0.1, against a no-op endpoint of the same app.

    python bench/bench_service.py [--seconds 10] [--connections 8] [--rounds 3]

Starts `python -m app`'s application (one worker) in a child process, with one extra route,
POST /noop, that reads the body and answers a constant: the framework's ceiling. Then wrk
(Debian's `apt-get install wrk`) holds `--connections` keep-alive connections on each endpoint
in turn, alternating rounds, and we report the medians. Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi import FastAPI, Request  # noqa: E402

from app.schemas import PredictRequest  # noqa: E402
from tests.servers import free_port, wait_until_healthy  # noqa: E402


def app_with_noop() -> FastAPI:  # the factory uvicorn runs in the child process
    from app.main import create_app

    app = create_app()

    async def noop(request: Request) -> dict[str, int]:
        await request.body()
        return {"label": 0}

    async def noop_validated(req: PredictRequest) -> dict[str, int]:
        return {"label": 0}

    for path, endpoint in (("/noop", noop), ("/noop/validated", noop_validated)):
        app.add_api_route(path, endpoint, methods=["POST"], include_in_schema=False)
        app.router.routes.insert(0, app.router.routes.pop())  # before the page, which is mounted at /
    return app


def wrk(url: str, body: str, seconds: float, connections: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                     f"wrk.body = {json.dumps(body)}\n"
                     "done = function(summary, latency, requests)\n"
                     "  io.write(string.format('RESULT %d %d %d %f %f %f\\n', summary.requests, summary.errors.status,"
                     " summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,"
                     " latency:percentile(50), latency:percentile(99), summary.duration))\nend\n")
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{round(seconds)}s", "-s", script.name, url],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    requests, status_errors, socket_errors, p50, p99, micros = re.search(r"RESULT (.*)", out).group(1).split()
    return {"rps": int(requests) / (float(micros) / 1e6), "p50_ms": float(p50) / 1e3, "p99_ms": float(p99) / 1e3,
            "errors": int(status_errors) + int(socket_errors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")

    sample = json.loads((ROOT / "static" / "samples.json").read_text())["digits"][7]  # an MNIST test 7
    grid = (np.array(sample["pixels"]) / 255).round(4).tolist() if np.max(sample["pixels"]) > 1 else sample["pixels"]
    bodies = {
        "POST /noop (reads the body, no work)": ("/noop", json.dumps({"image": grid})),
        "POST /noop/validated (parses and validates it like /predict)": ("/noop/validated",
                                                                         json.dumps({"image": grid})),
        "POST /predict": ("/predict", json.dumps({"image": grid})),
        "POST /predict, feature_maps (JSON numbers)": ("/predict", json.dumps({"image": grid, "feature_maps": True})),
        "POST /predict, feature_maps (float16)": ("/predict", json.dumps(
            {"image": grid, "feature_maps": True, "maps_encoding": "float16"})),
    }
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.bench_service:app_with_noop", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(port, server)
        sizes = {}
        for name, (path, body) in bodies.items():
            request = urllib.request.Request(base + path, body.encode(), {"Content-Type": "application/json"})
            sizes[name] = len(urllib.request.urlopen(request).read())
        results: dict[str, list[dict[str, float]]] = {name: [] for name in bodies}
        for _ in range(args.rounds):
            for name, (path, body) in bodies.items():
                results[name].append(wrk(base + path, body, args.seconds, args.connections))
    finally:
        server.terminate()
        server.wait(timeout=30)

    med = {name: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for name, runs in results.items()}
    ceiling = med["POST /noop (reads the body, no work)"]["rps"]
    validated = med["POST /noop/validated (parses and validates it like /predict)"]["rps"]
    print(f"## {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; one uvicorn worker; wrk, {args.connections} "
          f"connections, {args.rounds} alternating rounds of {args.seconds:g} s, medians\n")
    print("| endpoint | requests/s | share of no-op | of validating no-op | p50 | p99 | errors | response bytes |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, m in med.items():
        print(f"| {name} | {m['rps']:,.0f} | {m['rps'] / ceiling:.0%} | {m['rps'] / validated:.0%} | "
              f"{m['p50_ms']:.1f} ms | "
              f"{m['p99_ms']:.1f} ms | {m['errors']:.0f} | {sizes[name]:,} |")


if __name__ == "__main__":
    main()
