"""How fast is the vectorised network? Ratios against references timed in the same process.

    python bench/bench_model.py [--torch]

References, each run here beside ours so that the machine's load cancels out:
  - the article's equations as plain Python loops (tests/reference.py), per image;
  - optionally PyTorch's conv2d/max_pool2d on the CPU (--torch; needs torch installed).
Prints a Markdown table for BENCHMARKS.md.
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
from model.network import backward, forward  # noqa: E402
from tests.reference import backward_one, forward_one  # noqa: E402


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


def torch_step(batch: int) -> tuple[Callable[[], object], Callable[[], object]]:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    k1, b1 = torch.randn(6, 1, 5, 5, requires_grad=True), torch.zeros(6, requires_grad=True)
    k2, b2 = torch.randn(12, 6, 5, 5, requires_grad=True), torch.zeros(12, requires_grad=True)
    w, b = torch.randn(10, 192, requires_grad=True), torch.zeros(10, requires_grad=True)

    def scores():
        P1 = F.max_pool2d(F.relu(F.conv2d(x, k1, b1)), 2)
        P2 = F.max_pool2d(F.relu(F.conv2d(P1, k2, b2)), 2)
        return P2.flatten(1) @ w.T + b

    def infer():
        with torch.no_grad():
            return scores().softmax(1)

    def step():
        F.cross_entropy(scores(), y).backward()

    return infer, step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--torch", action="store_true", help="also time PyTorch on the CPU")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    net = model.CNN.random(seed=0)  # float32, as served and trained
    net64 = model.CNN.random(seed=0, dtype=np.float64)
    rows = []

    image = rng.random((28, 28))
    loops_fw = best_of(lambda: forward_one(net64.params, image), repeat=2, min_time=0.5)
    fw1 = forward_one(net64.params, image)
    loops_bw = best_of(lambda: backward_one(net64.params, fw1, 3), repeat=2, min_time=0.5) + loops_fw
    ours_fw1 = best_of(lambda: net64.predict_proba(image))
    ours_step1 = best_of(lambda: net64.loss_and_gradients(image, [3]))
    rows.append(("1, float64", "article's loops", loops_fw, ours_fw1, loops_bw, ours_step1))

    for batch in (1, 32, 256):
        images = rng.random((batch, 28, 28)).astype(np.float32)
        labels = rng.integers(0, 10, batch)
        infer = best_of(lambda x=images: net.predict_proba(x)) / batch
        step = best_of(lambda x=images, y=labels: backward(net.params, forward(net.params, x), y)) / batch
        if args.torch:
            t_infer, t_step = torch_step(batch)
            rows.append((f"{batch}, float32", "PyTorch CPU", best_of(t_infer) / batch, infer,
                         best_of(t_step) / batch, step))
        else:
            rows.append((f"{batch}, float32", "-", float("nan"), infer, float("nan"), step))

    print(f"NumPy {np.__version__}, Python {platform.python_version()}, {platform.machine()}, "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| batch, dtype | reference | ref. inference µs/img | ours µs/img | speed-up | "
          "ref. train step µs/img | ours µs/img | speed-up |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, ref, ref_fw, fw, ref_step, step in rows:
        speed = lambda r, o: "-" if np.isnan(r) else f"{r / o:.1f}x"  # noqa: E731
        fmt = lambda s: "-" if np.isnan(s) else f"{s * 1e6:,.0f}"  # noqa: E731
        print(f"| {name} | {ref} | {fmt(ref_fw)} | {fmt(fw)} | {speed(ref_fw, fw)} | "
              f"{fmt(ref_step)} | {fmt(step)} | {speed(ref_step, step)} |")


if __name__ == "__main__":
    main()
