"""How close POST /predict is to the floor of its stack: the same server with no model, side by side.

    python bench/floor.py [--pairs 8] [--seconds 2] [--connections 8] [--before ../before-checkout]

The floor is uvicorn with httptools and uvloop (the service's own server) running a bare ASGI
application of a dozen lines, started here in a child process:
  - POST /read   reads the body and answers a fixed JSON object (the server alone);
  - POST /parse  reads the same body, parses it (json.loads, np.asarray as float32, a shape check) and
                 answers a fixed JSON object: the least any server must do with a drawing before a model.
The service (`python -m app`'s application, one worker, access log off, as bench/bench_service.py runs it)
answers POST /predict with the same 28x28 body. wrk (Debian's `apt-get install wrk`) loads the three in
turn, the order reversed every other round (ABBA), so that this machine's drift falls on all alike.
With --before, the service of another source tree (a checkout of the commit before a change) runs
beside them too, so that a change's ratios before and after come from the same sitting.
Reports each one's median requests/s, its server CPU a request (the process tree's, from /proc, so that
wrk's share of the two cores does not blur it), and the medians of /predict's ratios to both floors.
Issue 34 asks /predict for at least 0.5 of the parse floor.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench/ itself, as a package, when run as a script

from bench.abba import abba, start, stop  # noqa: E402
from bench.bench_service import SERVE, sample_grid  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--before", type=Path, help="also the service of this source tree")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")
    body = json.dumps({"image": sample_grid()})
    servers = {"floor": start(FLOOR), "service": start(SERVE)}
    if args.before is not None:
        servers["before"] = start(SERVE, args.before.resolve())
    targets = {  # name -> (server, path)
        "floor, read only": ("floor", "/read"),
        "floor, read and parse": ("floor", "/parse"),
        "service, POST /predict": ("service", "/predict"),
    }
    if args.before is not None:
        targets[f"service of {args.before}, POST /predict"] = ("before", "/predict")
    try:
        runs = abba(
            {name: (servers[server][0], servers[server][1] + path) for name, (server, path) in targets.items()},
            body,
            args.pairs,
            args.seconds,
            args.connections,
        )
    finally:
        stop([server for server, _ in servers.values()])
    print(f"{args.pairs} rounds of {args.seconds:g} s runs, {args.connections} connections, the same 28x28 body\n")
    print("| what | requests/s (median) | server CPU a request |")
    print("|---|---:|---:|")
    for name in targets:
        rps, cpu = runs.median(name)
        print(f"| {name} | {rps:,.0f} | {cpu:.0f} µs |")
    for service in [name for name in targets if name.startswith("service")]:
        for floor in ("floor, read and parse", "floor, read only"):
            median, low, high = runs.ratios("rps", service, floor)
            print(f"\n{service} / {floor}: median {median:.3f} (quartiles {low:.3f}-{high:.3f})")


if __name__ == "__main__":
    main()
