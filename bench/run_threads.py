"""The command's training on one thread and on two, in turn: what `--threads 2` buys a full run.

    python bench/run_threads.py [--data-dir ../shared/mnist] [--recipe cnn] [--steps 300] [--rounds 4]

Each round takes --steps steps of the recipe (the one loop of model/training/steps.py: the batch
redrawn at random, the loss and gradients, the update) with `threads` 1, then 2, then 2, then 1
(ABBA, so that the machine's drift falls on both alike), every run from the same parameters on the
same batches. Reports images per second, the median of the rounds' ratios, and the recipe's whole
run at each speed. Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import model  # noqa: E402
from model.mnist import load_mnist  # noqa: E402
from model.training.optimizers import new_state  # noqa: E402
from model.training.recipes import RECIPES, initial_params  # noqa: E402
from model.training.schedule import split  # noqa: E402
from model.training.steps import State, steps  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="MNIST directory [$MNIST_DIR, else the download cache]")
    parser.add_argument("--recipe", default="cnn", choices=[n for n, r in RECIPES.items() if r.seeding == "epoch"])
    parser.add_argument("--steps", type=int, default=300, help="steps a run [%(default)s]")
    parser.add_argument("--rounds", type=int, default=4, help="ABBA rounds [%(default)s]")
    args = parser.parse_args()
    model.reuse_freed_memory()
    recipe = RECIPES[args.recipe]
    mnist = load_mnist(args.data_dir)
    train_idx, _ = split(len(mnist.train.images), recipe.validation)
    images, labels = mnist.train.images[train_idx], mnist.train.labels[train_idx].astype(np.int64)
    start = initial_params(recipe, recipe.seed)

    def run(threads: int) -> float:
        """Images per second of --steps steps from the recipe's first."""
        params = {k: v.copy() for k, v in start.items()}
        state = State(params, new_state(recipe.optimizer, params))
        began = time.perf_counter()
        seen = sum(
            s.images for s in steps(replace(recipe, threads=threads), recipe.seed, state, images, labels, args.steps)
        )
        return seen / (time.perf_counter() - began)

    run(1), run(2)  # warm up: allocations, the thread pools
    speeds: dict[int, list[float]] = {1: [], 2: []}
    ratios = []
    for _ in range(args.rounds):
        order = (1, 2, 2, 1)
        got = {1: [], 2: []}
        for threads in order:
            got[threads].append(run(threads))
        for threads in (1, 2):
            speeds[threads] += got[threads]
        ratios.append(statistics.mean(got[2]) / statistics.mean(got[1]))

    per_epoch = math.ceil(len(images) / recipe.batch_size) * recipe.batch_size
    print(
        f"## {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}: `--recipe {args.recipe}`, {args.steps} steps a run, "
        f"{args.rounds} ABBA rounds\n"
    )
    print("| threads | img/s (median) | the recipe's run, projected |\n|---:|---:|---:|")
    for threads in (1, 2):
        speed = statistics.median(speeds[threads])
        minutes = recipe.epochs * per_epoch / speed / 60
        print(f"| {threads} | {speed:,.0f} | {minutes:.1f} min for {recipe.epochs} epochs |")
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    print(f"\n2 threads over 1: **{statistics.median(ratios):.2f}x** (quartiles {quartiles[0]:.2f}-{quartiles[2]:.2f})")


if __name__ == "__main__":
    main()
