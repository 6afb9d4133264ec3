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
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench/ itself, as a package, when run as a script

from bench.abba import abba, start, stop  # noqa: E402
from bench.bench_service import SERVE, sample_grid  # noqa: E402


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
            server, base = start(SERVE, tree.resolve(), dict(e.split("=", 1) for e in env))
            sides[name] = server, base + args.path
        runs = abba(sides, body, args.pairs, args.seconds, args.connections)
    finally:
        stop([server for server, _ in sides.values()])
    print(f"POST {args.path}, {args.pairs} pairs of {args.seconds:g} s runs, {args.connections} connections")
    for name, tree, env in (("before", args.before, args.before_env), ("after", args.after, args.after_env)):
        rps, cpu = runs.median(name)
        print(f"{name:6} {tree} {' '.join(env)}: median {rps:,.0f} req/s, {cpu:.0f} µs of server CPU a request")
    for what, key, better in (("requests/s", "rps", "higher"), ("CPU a request", "cpu", "lower")):
        median, low, high = runs.ratios(key, "after", "before")
        print(f"{what}, after / before ({better} is better): median {median:.3f} (quartiles {low:.3f} .. {high:.3f})")


if __name__ == "__main__":
    main()
