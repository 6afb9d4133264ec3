"""Before and after, side by side: two servers at once, one endpoint, wrk runs alternating between them.

    python bench/ab_service.py --before ../before-checkout [--after .] [--after-env CNN_METRICS=0]
                               [--path /predict] [--pairs 12] [--seconds 2] [--connections 8]

Starts bench_service.py's server (the app plus its no-op routes, one worker, access log off) from
two source trees, e.g. a checkout of the commit before a change beside this one (git worktree add
../before <commit>), or the same tree under two environments. Both stay up; wrk loads one, then the
other, in ABBA order, so that this machine's drift (up to 2x within seconds) falls on both alike.
Reports each side's median requests/s and the server's CPU time per request (its process tree's, from /proc, so
that wrk's share of the two cores does not blur it), and the medians of the pairs' ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_service import SERVE, sample_grid, wrk  # noqa: E402
from bench.servers import cpu_seconds, free_port, wait_until_healthy  # noqa: E402


def start(tree: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port)],
        cwd=tree,
        env={**os.environ, **env, "PYTHONPATH": str(tree)},
        stdout=subprocess.DEVNULL,  # the request lines: written, as in production, but not kept
    )
    wait_until_healthy(port, server)
    return server, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="source tree of the reference")
    parser.add_argument("--after", type=Path, default=ROOT, help="source tree of the change [this one]")
    parser.add_argument("--before-env", nargs="*", default=[], metavar="NAME=VALUE")
    parser.add_argument("--after-env", nargs="*", default=[], metavar="NAME=VALUE")
    parser.add_argument("--path", default="/predict")
    parser.add_argument("--pairs", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=2)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    body = json.dumps({"image": sample_grid()})
    sides = {}
    try:
        for name, tree, env in (("before", args.before, args.before_env), ("after", args.after, args.after_env)):
            sides[name] = start(tree.resolve(), dict(e.split("=", 1) for e in env))
        runs: dict[str, list[float]] = {"before": [], "after": []}
        cpu: dict[str, list[float]] = {"before": [], "after": []}  # server CPU µs per request
        for pair in range(args.pairs):
            order = ("before", "after") if pair % 2 == 0 else ("after", "before")  # ABBA: drift falls on both
            for name in order:
                server, base = sides[name]
                used = cpu_seconds(server.pid)
                run = wrk(base + args.path, body, args.seconds, args.connections)
                runs[name].append(run["rps"])
                cpu[name].append(1e6 * (cpu_seconds(server.pid) - used) / (run["rps"] * run["seconds"]))
    finally:
        for server, _ in sides.values():
            server.terminate()
            server.wait(timeout=30)
    print(f"POST {args.path}, {args.pairs} pairs of {args.seconds:g} s runs, {args.connections} connections")
    for name, tree, env in (("before", args.before, args.before_env), ("after", args.after, args.after_env)):
        print(
            f"{name:6} {tree} {' '.join(env)}: median {statistics.median(runs[name]):,.0f} req/s, "
            f"{statistics.median(cpu[name]):.0f} µs of server CPU a request"
        )
    for what, values, better in (("requests/s", runs, "higher"), ("CPU a request", cpu, "lower")):
        ratios = [a / b for a, b in zip(values["after"], values["before"], strict=True)]
        q = statistics.quantiles(ratios, n=4)
        print(
            f"{what}, after / before ({better} is better): median {statistics.median(ratios):.3f} "
            f"(quartiles {q[0]:.3f} .. {q[2]:.3f})"
        )


if __name__ == "__main__":
    main()
