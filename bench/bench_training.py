"""Training steps per second, ours against the PyTorch twin, at batch 1 (the article's recipe) and 64.

    python bench/bench_training.py [--rounds 5] [--steps 2000] [--epochs]

Needs PyTorch (`pip install -e ".[bench]"`). Each round times, one after the other in this
process, N steps of model.training.runs.Run (what POST /train and the replay take: index the images,
scale them, the batch's gradients, the update) and N steps of bench/torch_twin.py from the same
parameters on the same images; we report medians and the median of the rounds' ratios (> 1: ours
is faster). With --epochs, also the wall time of one epoch of the article's recipe on the first
10,000 and on all 60,000 images. Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from bench.torch_twin import TorchTwin  # noqa: E402
from model.data import small_mnist  # noqa: E402
from model.mnist import load_mnist  # noqa: E402
from model.training.recipes import RECIPES  # noqa: E402
from model.training.runs import Run  # noqa: E402


def ours(recipe: str, images: np.ndarray, labels: np.ndarray, steps: int) -> float:
    r = dataclasses.replace(RECIPES[recipe], augment=False)  # the twin does not redraw: neither do we, here
    start = Run.start(recipe, 0)
    run = Run(r, 0, 0, start.params, start.velocity)
    t = time.perf_counter()
    run.train(images, labels, steps)
    return steps / (time.perf_counter() - t)


def theirs(recipe: str, images: np.ndarray, labels: np.ndarray, steps: int) -> float:
    r = RECIPES[recipe]
    twin = TorchTwin(Run.start(recipe, 0).params, lr=r.lr, momentum=r.momentum)
    x = torch.from_numpy(images.astype(np.float32) / 255 - np.float32(r.shift))
    y = torch.from_numpy(labels.astype(np.int64))
    order = np.random.default_rng([0, 0]).permutation(len(images))
    t = time.perf_counter()
    for step in range(steps):
        idx = torch.from_numpy(order[(step * r.batch_size) % len(images) :][: r.batch_size])
        twin.train_step(x[idx], y[idx])
    return steps / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000, help="steps at batch 1; batch 64 takes a tenth")
    parser.add_argument("--epochs", action="store_true", help="also time whole epochs of the article's recipe")
    parser.add_argument("--data-dir", help="MNIST directory, for the 60,000-image epoch [$MNIST_DIR]")
    args = parser.parse_args()
    data = small_mnist()
    images, labels = data.train_images, data.train_labels.astype(int)
    print(
        f"NumPy {np.__version__}, PyTorch {torch.__version__} ({torch.get_num_threads()} threads); "
        f"{args.rounds} rounds, alternating\n"
    )
    print("| batch | recipe | ours, steps/s | PyTorch, steps/s | ours / PyTorch |")
    print("|---:|---|---:|---:|---:|")
    for recipe, steps in (("article", args.steps), ("ours", max(10, args.steps // 10))):
        ours(recipe, images, labels, steps // 10)  # warm up both
        theirs(recipe, images, labels, steps // 10)
        a, b = [], []
        for _ in range(args.rounds):
            a.append(ours(recipe, images, labels, steps))
            b.append(theirs(recipe, images, labels, steps))
        ratio = statistics.median(x / y for x, y in zip(a, b, strict=True))
        batch = RECIPES[recipe].batch_size
        print(
            f"| {batch} | {recipe} | {statistics.median(a):,.0f} | {statistics.median(b):,.0f} | **{ratio:.2f}x** |",
            flush=True,
        )
    if args.epochs:
        print("\n| one epoch of the article's recipe | seconds |\n|---|---:|")
        for name, (x, y) in (
            ("first 10,000 images", (images, labels)),
            ("all 60,000 images", (lambda m: (m.train.images, m.train.labels.astype(int)))(load_mnist(args.data_dir))),
        ):
            run = Run.start("article", 0)
            t = time.perf_counter()
            run.train(x, y, len(x))
            print(f"| {name} | {time.perf_counter() - t:.1f} |", flush=True)


if __name__ == "__main__":
    main()
