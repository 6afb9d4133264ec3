"""Where POST /predict's time goes: the service under wrk's load, sampled by py-spy, summed by stage.

    python bench/profile_predict.py [--seconds 10] [--connections 8] [--before ../before-checkout]

Starts the service as bench/floor.py does (`python -m app`'s application, one worker, access log
off), loads POST /predict with wrk for --seconds, and meanwhile records its server process with
py-spy (`pip install py-spy`; run as root, or where ptrace is allowed) without pausing it. Each
sample's stack is put in the stage of the first of STAGES it holds, counted from the innermost
frame. py-spy samples wall time, and the socket's writes hold, beside their system calls (a few µs,
strace says), the moments the server waits for a core while the client it has just woken runs: on
two shared cores, most of their samples. So the table gives the writes' share of all samples, and
every other stage's share of the rest, times the server's CPU a request (its process tree's, from
/proc): where the CPU goes. With --before, another checkout is profiled the same way, right after,
for a before/after in one sitting. Prints Markdown.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench/ itself, as a package, when run as a script

from bench.abba import start, stop  # noqa: E402
from bench.bench_service import SERVE, sample_grid, wrk  # noqa: E402
from bench.servers import cpu_seconds  # noqa: E402

STAGES = (  # (stage, a pattern of the frame "function (file:line)"), the innermost match wins
    ("the socket's writes (uvicorn)", r"httptools_impl\.py:(522|549|559)\)"),
    ("the network's forward pass", r"\((model/cnn|model/fast/)"),
    ("calibrated softmax", r"Confidence\.probabilities"),
    ("the grid to an array, checked", r"grid_to_array"),
    ("the JSON body parsed and validated (pydantic)", r"model_validate_json"),
    ("what the input looked like (drift)", r"Facts\.saw"),
    ("the answer encoded", r"\bdumps\b|PredictResponse\.content"),
    ("metrics", r"Metrics\.|Histograms\."),
    ("the handler, the rest", r"\(app/api/"),
    ("the request path, the rest", r"\(app/transport/(request_path|dispatch|jobs|lane|endpoints)"),
    ("the request log", r"request_log\.py"),
    ("security headers", r"transport/middleware\.py"),
    ("the connection's deadlines and bounds", r"transport/server\.py"),
    ("FastAPI", r"\(fastapi/"),
    ("Starlette", r"\(starlette/"),
    ("uvicorn, the rest", r"\(uvicorn/"),
    ("the event loop", r"asyncio|runners\.py"),
)


def stage_of(stack: str) -> str:
    for frame in reversed(stack.split(";")):
        for stage, pattern in STAGES:
            if re.search(pattern, frame):
                return stage
    return "elsewhere"


def profile(tree: Path, seconds: float, connections: int, body: str) -> tuple[dict[str, int], float, float]:
    """Each stage's samples, the requests/s and the server CPU µs a request."""
    server, base = start(SERVE, tree)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            raw = Path(scratch) / "profile.txt"
            used = cpu_seconds(server.pid)
            load: dict[str, dict[str, float]] = {}
            loading = threading.Thread(
                target=lambda: load.update(run=wrk(base + "/predict", body, seconds, connections))
            )
            loading.start()
            subprocess.run(
                ["py-spy", "record", "--pid", str(server.pid), "--duration", str(max(1, round(seconds) - 2))]
                + ["--rate", "250", "--nonblocking", "--format", "raw", "--output", str(raw)],
                check=True,
                capture_output=True,
            )
            loading.join()
            cpu = 1e6 * (cpu_seconds(server.pid) - used) / (load["run"]["rps"] * load["run"]["seconds"])
            counts: collections.Counter[str] = collections.Counter()
            for line in raw.read_text().splitlines():
                stack, _, n = line.rpartition(" ")
                counts[stage_of(stack)] += int(n)
    finally:
        stop([server])
    return dict(counts), load["run"]["rps"], cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--before", type=Path, help="also profile the service of this source tree")
    args = parser.parse_args()
    body = json.dumps({"image": sample_grid()})
    trees = {"this tree": ROOT} | ({str(args.before): args.before.resolve()} if args.before else {})
    results = {name: profile(tree, args.seconds, args.connections, body) for name, tree in trees.items()}
    print("| stage | " + " | ".join(f"{name}: share, µs of CPU a request" for name in results) + " |")
    print("|---|" + "---:|" * len(results))
    writes = STAGES[0][0]
    for stage in [stage for stage, _ in STAGES] + ["elsewhere"]:
        cells = []
        for counts, _, cpu in results.values():
            own = sum(counts.values()) - counts.get(writes, 0)
            if stage == writes:
                cells.append(f"{100 * counts.get(writes, 0) / sum(counts.values()):.0f} % of all samples")
            else:
                cells.append(f"{100 * counts.get(stage, 0) / own:.1f} %, {cpu * counts.get(stage, 0) / own:.0f}")
        print(f"| {stage} | " + " | ".join(cells) + " |")
    rates = [f"{rps:,.0f}, {cpu:.0f} µs" for _, rps, cpu in results.values()]
    print("| **requests/s, server CPU a request** | " + " | ".join(rates) + " |")


if __name__ == "__main__":
    main()
