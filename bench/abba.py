"""Servers side by side, loaded by wrk in turn, the order reversed every round (ABBA).

This machine's speed drifts by up to 2x within seconds; runs that alternate let the drift fall on
every server alike, and each run's server CPU (its process tree's, from /proc, so that wrk's share
of the cores does not blur it) says what a request costs whatever the drift. bench/ab_service.py
(two checkouts) and bench/floor.py (the service beside its stack's floor) both run here.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.bench_service import wrk
from bench.servers import ROOT, cpu_seconds, free_port, wait_until_healthy


def start(code: str, tree: Path = ROOT, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """`code` run by Python from `tree` (its app/ and bench/ first on the path), given a free port as
    its argument, until GET /healthz answers; the process and its base URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", code, str(port)],
        cwd=tree,
        env={**os.environ, **(env or {}), "PYTHONPATH": str(tree)},
        stdout=subprocess.DEVNULL,  # the request lines: written, as in production, but not kept
    )
    try:
        wait_until_healthy(port, server, seconds=60)
    except RuntimeError:
        server.kill()
        raise
    return server, f"http://127.0.0.1:{port}"


def stop(servers: list[subprocess.Popen[bytes]]) -> None:
    for server in servers:
        server.terminate()
    for server in servers:
        server.wait(timeout=30)


@dataclass
class Runs:
    """Each target's requests/s and server CPU µs a request, one value per round."""

    rps: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    def median(self, name: str) -> tuple[float, float]:
        return statistics.median(self.rps[name]), statistics.median(self.cpu[name])

    def ratios(self, what: str, over: str, under: str) -> tuple[float, float, float]:
        """The median and quartiles of the rounds' ratios `over` / `under`, of "rps" or "cpu"."""
        values = self.rps if what == "rps" else self.cpu
        ratios = [a / b for a, b in zip(values[over], values[under], strict=True)]
        q = statistics.quantiles(ratios, n=4)
        return statistics.median(ratios), q[0], q[2]


def abba(
    targets: dict[str, tuple[subprocess.Popen[bytes], str]], body: str, rounds: int, seconds: float, connections: int
) -> Runs:
    """`targets`: name -> (its server, the URL to POST `body` to). Each round runs wrk on every
    target, in the order given on even rounds and reversed on odd ones."""
    runs = Runs({name: [] for name in targets}, {name: [] for name in targets})
    for round_ in range(rounds):
        for name in list(targets) if round_ % 2 == 0 else list(reversed(targets)):
            server, url = targets[name]
            used = cpu_seconds(server.pid)
            run = wrk(url, body, seconds, connections)
            runs.rps[name].append(run["rps"])
            runs.cpu[name].append(1e6 * (cpu_seconds(server.pid) - used) / (run["rps"] * run["seconds"]))
    return runs
