"""How much faster than the article's own loops is the vectorised network? Timed in one process.

    python bench/bench_model.py

The reference is the article's equations as plain Python loops (bench/reference.py), per image,
in float64. (The race against PyTorch is bench/bench_speed.py.) Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import model  # noqa: E402
from bench.reference import backward_one, forward_one  # noqa: E402


def best_of(fn: Callable[[], object], repeat: int = 5, min_time: float = 0.2) -> float:
    """Seconds per call: the best of `repeat` rounds, each long enough to time reliably."""
    fn()
    calls, elapsed = 1, 0.0
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            break
        calls *= 2
    rounds = [elapsed / calls]
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        rounds.append((time.perf_counter() - start) / calls)
    return min(rounds)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()

    rng = np.random.default_rng(0)
    net64 = model.CNN.random(seed=0, dtype=np.float64)
    rows = []

    image = rng.random((28, 28))
    loops_fw = best_of(lambda: forward_one(net64.params, image), repeat=2, min_time=0.5)
    fw1 = forward_one(net64.params, image)
    loops_bw = best_of(lambda: backward_one(net64.params, fw1, 3), repeat=2, min_time=0.5) + loops_fw
    ours_fw1 = best_of(lambda: net64.predict_proba(image))
    ours_step1 = best_of(lambda: net64.loss_and_gradients(image, [3]))
    rows.append(("1, float64", "article's loops", loops_fw, ours_fw1, loops_bw, ours_step1))

    print(
        f"NumPy {np.__version__}, Python {platform.python_version()}, {platform.machine()}, "
        f"{time.strftime('%Y-%m-%d')}\n"
    )
    print(
        "| batch, dtype | reference | ref. inference µs/img | ours µs/img | speed-up | "
        "ref. train step µs/img | ours µs/img | speed-up |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, ref, ref_fw, fw, ref_step, step in rows:
        speed = lambda r, o: "-" if np.isnan(r) else f"{r / o:.1f}x"  # noqa: E731
        fmt = lambda s: "-" if np.isnan(s) else f"{s * 1e6:,.0f}"  # noqa: E731
        print(
            f"| {name} | {ref} | {fmt(ref_fw)} | {fmt(fw)} | {speed(ref_fw, fw)} | "
            f"{fmt(ref_step)} | {fmt(step)} | {speed(ref_step, step)} |"
        )


if __name__ == "__main__":
    main()
