"""How close POST /predict is to the floor of its stack: the same server with no model, side by side.

    python bench/floor.py [--pairs 8] [--seconds 2] [--connections 8]

The floor is uvicorn with httptools and uvloop (the service's own server) running a bare ASGI
application of a dozen lines, started here in a child process:
  - POST /read   reads the body and answers a fixed JSON object (the server alone);
  - POST /parse  reads the same body, parses it (json.loads, np.asarray as float32, a shape check) and
                 answers a fixed JSON object: the least any server must do with a drawing before a model.
The service (`python -m app`'s application, one worker, access log off, as bench/bench_service.py runs it)
answers POST /predict with the same 28x28 body. wrk (Debian's `apt-get install wrk`) loads the three in
turn, the order reversed every other round (ABBA), so that this machine's drift falls on all alike.
Reports each one's median requests/s, its server CPU a request (the process tree's, from /proc, so that
wrk's share of the two cores does not blur it), and the medians of /predict's ratios to both floors.
Issue 34 asks /predict for at least 0.5 of the parse floor.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_service import SERVE, sample_grid, wrk  # noqa: E402
from bench.servers import cpu_seconds, free_port, wait_until_healthy  # noqa: E402

FLOOR = """
import json, sys
import numpy as np
import uvicorn

ANSWER = json.dumps({"label": 7, "probabilities": [0.1] * 10}).encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def app(scope, receive, send):
    if scope["type"] != "http":  # lifespan: nothing to set up
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["path"] == "/parse":
        image = np.asarray(json.loads(body)["image"], dtype=np.float32)
        if image.shape != (28, 28):
            raise ValueError(image.shape)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), http="httptools", loop="uvloop",
            access_log=False, log_level="warning")
"""


def start(code: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", code, str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_until_healthy(port, server, seconds=60)
    except RuntimeError:
        server.kill()
        raise
    return server, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    body = json.dumps({"image": sample_grid()})
    servers = {"floor": start(FLOOR), "service": start(SERVE)}
    targets = {  # name -> (server, path)
        "floor, read only": ("floor", "/read"),
        "floor, read and parse": ("floor", "/parse"),
        "service, POST /predict": ("service", "/predict"),
    }
    rps: dict[str, list[float]] = {name: [] for name in targets}
    cpu: dict[str, list[float]] = {name: [] for name in targets}  # server CPU µs a request
    try:
        for round_ in range(args.pairs):
            order = list(targets) if round_ % 2 == 0 else list(reversed(targets))  # ABBA
            for name in order:
                server, base = servers[targets[name][0]]
                used = cpu_seconds(server.pid)
                run = wrk(base + targets[name][1], body, args.seconds, args.connections)
                rps[name].append(run["rps"])
                cpu[name].append(1e6 * (cpu_seconds(server.pid) - used) / (run["rps"] * run["seconds"]))
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=30)
    print(f"{args.pairs} rounds of {args.seconds:g} s runs, {args.connections} connections, the same 28x28 body\n")
    print("| what | requests/s (median) | server CPU a request |")
    print("|---|---:|---:|")
    for name in targets:
        print(f"| {name} | {statistics.median(rps[name]):,.0f} | {statistics.median(cpu[name]):.0f} µs |")
    predict = rps["service, POST /predict"]
    for floor in ("floor, read and parse", "floor, read only"):
        ratios = [p / f for p, f in zip(predict, rps[floor], strict=True)]
        quartiles = statistics.quantiles(ratios, n=4)
        print(
            f"\n/predict / {floor}: median {statistics.median(ratios):.3f} "
            f"(quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f})"
        )


if __name__ == "__main__":
    main()
