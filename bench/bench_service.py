"""The service under a bounded concurrent load on 127.0.0.1, against a no-op endpoint of the same app.

    python bench/bench_service.py [--seconds 3] [--connections 8] [--rounds 5]

Starts `python -m app`'s application (one worker) in a child process, with one extra route,
POST /noop, that reads the body and answers a constant: the framework's ceiling. Then wrk
(Debian's `apt-get install wrk`) holds `--connections` keep-alive connections on each endpoint
in turn. This machine's speed drifts by up to 2x within seconds, so every run of an endpoint sits
between two runs of its no-op, and its share is its requests/s over the mean of those two; we
report the medians over the rounds. Prints Markdown for BENCHMARKS.md.
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

from app.api.conversions import encode  # noqa: E402
from app.api.requests import PredictRequest  # noqa: E402
from bench.servers import free_port, wait_until_healthy  # noqa: E402


def app_with_noop() -> FastAPI:  # the factory uvicorn runs in the child process
    from app.main import create_app

    app = create_app()

    async def noop(request: Request) -> dict[str, int]:
        await request.body()
        return {"label": 0}

    async def noop_validated(request: Request) -> dict[str, int]:
        body = await request.body()
        PredictRequest.model_validate_json(body, context={"max_drawing_side": app.state.settings.max_drawing_side})
        return {"label": 0}

    # Where a route of the app's own would be: after the API's routes (so that finding it costs what
    # finding /predict costs, about 45 µs of route matching), and before the page, mounted at /.
    page = app.router.routes.pop()
    for path, endpoint in (("/noop", noop), ("/noop/validated", noop_validated)):
        app.add_api_route(path, endpoint, methods=["POST"], include_in_schema=False)
    app.router.routes.append(page)
    return app


SERVE = """
import sys, uvicorn
from app.config import get_settings
try:
    from app.transport.server import uvicorn_options
except ImportError:  # a tree from before app/ had families (bench/ab_service.py --before an older commit)
    from app.server import uvicorn_options
uvicorn.run("bench.bench_service:app_with_noop", factory=True, host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", **uvicorn_options(get_settings()))  # access log off there, as in production
"""


def wrk(url: str, body: str, seconds: float, connections: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(body)}\n"
            "done = function(summary, latency, requests)\n"
            "  io.write(string.format('RESULT %d %d %d %f %f %f\\n', summary.requests, summary.errors.status,"
            " summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,"
            " latency:percentile(50), latency:percentile(99), summary.duration))\nend\n"
        )
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{round(seconds)}s", "-s", script.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    requests, status_errors, socket_errors, p50, p99, micros = re.search(r"RESULT (.*)", out).group(1).split()
    return {
        "rps": int(requests) / (float(micros) / 1e6),
        "p50_ms": float(p50) / 1e3,
        "p99_ms": float(p99) / 1e3,
        "errors": int(status_errors) + int(socket_errors),
        "seconds": float(micros) / 1e6,
    }


def sample_grid() -> list[list[float]]:
    """An MNIST test 7 from the page's samples, as the page sends it: 28 rows of numbers in [0, 1]."""
    sample = json.loads((ROOT / "static" / "samples.json").read_text())["digits"][7]
    return (np.array(sample["pixels"]) / 255).round(4).tolist() if np.max(sample["pixels"]) > 1 else sample["pixels"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")

    grid = sample_grid()
    numbers = {"image": grid}
    half_floats = {"image": encode(np.asarray(grid), "float16")}  # as the service writes its maps
    # name -> (path, body, the no-op row it is measured against: the one that receives the same bytes)
    NOOP, NOOP16 = "POST /noop (reads the body, no work)", "POST /noop, image as float16"
    bodies = {
        NOOP: ("/noop", numbers, NOOP),
        "POST /noop/validated (parses and validates it like /predict)": ("/noop/validated", numbers, NOOP),
        "POST /predict": ("/predict", numbers, NOOP),
        "POST /predict, feature_maps (JSON numbers)": ("/predict", {**numbers, "feature_maps": True}, NOOP),
        "POST /predict, feature_maps (float16)": (
            "/predict",
            {**numbers, "feature_maps": True, "maps_encoding": "float16"},
            NOOP,
        ),
        NOOP16: ("/noop", half_floats, NOOP16),
        "POST /predict, image as float16": ("/predict", half_floats, NOOP16),
        "POST /predict, image and feature_maps as float16": (
            "/predict",
            {**half_floats, "feature_maps": True, "maps_encoding": "float16"},
            NOOP16,
        ),
    }
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVE, str(port)], cwd=ROOT)  # as `python -m app` runs
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(port, server)
        sizes = {}
        for name, (path, body, _) in bodies.items():
            data = json.dumps(body).encode()
            request = urllib.request.Request(base + path, data, {"Content-Type": "application/json"})
            sizes[name] = (len(request.data), len(urllib.request.urlopen(request).read()))
        results: dict[str, list[dict[str, float]]] = {name: [] for name in bodies}
        shares: dict[str, list[float]] = {name: [] for name in bodies}
        for _ in range(args.rounds):
            for noop in dict.fromkeys(noop for _, _, noop in bodies.values()):  # each no-op, then its rows
                path, body, _ = bodies[noop]
                before = wrk(base + path, json.dumps(body), args.seconds, args.connections)
                results[noop].append(before)
                shares[noop].append(1.0)
                for name, (path, body, its_noop) in bodies.items():
                    if its_noop != noop or name == noop:
                        continue
                    run = wrk(base + path, json.dumps(body), args.seconds, args.connections)
                    after = wrk(base + bodies[noop][0], json.dumps(bodies[noop][1]), args.seconds, args.connections)
                    results[name].append(run)
                    results[noop].append(after)
                    shares[name].append(run["rps"] / ((before["rps"] + after["rps"]) / 2))
                    before = after
    finally:
        server.terminate()
        server.wait(timeout=30)

    med = {name: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for name, runs in results.items()}
    print(
        f"## {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; one uvicorn worker; wrk, {args.connections} "
        f"connections, {args.rounds} rounds of {args.seconds:g} s runs, each run between two of its no-op; medians\n"
    )
    print(
        "| endpoint | requests/s | share of the no-op with the same body | p50 | p99 | errors "
        "| request bytes | response bytes |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, m in med.items():
        share = statistics.median(shares[name])
        print(
            f"| {name} | {m['rps']:,.0f} | {share:.0%} | {m['p50_ms']:.1f} ms | {m['p99_ms']:.1f} ms | "
            f"{m['errors']:.0f} | {sizes[name][0]:,} | {sizes[name][1]:,} |"
        )


if __name__ == "__main__":
    main()
