"""Replay a recipe of recipes.py on MNIST, epoch by epoch, beside the article's own log.

    python -m model.train --recipe article --data-dir ../shared/mnist --epochs 10 --limit 10000 --test-limit 1000
    python -m model.train --recipe article --data-dir ../shared/mnist --epochs 3

The same steps as POST /train takes (runs.Run), on the first --limit training
images (all 60,000 by default), scored after every epoch on the first --test-limit
test images, and printed beside what the article's companion code logged for the
same run, where it logged it.
"""

from __future__ import annotations

import math
import time

from ..mnist import load_mnist
from .progress import progress_bar
from .recipes import ARTICLE_FULL_RUN, ARTICLE_SMALL_RUN, RECIPES
from .runs import Run

CHUNK = 1000  # steps between progress-bar updates


def replay(
    recipe: str, data_dir: str | None, epochs: int, seed: int, limit: int | None, test_limit: int | None
) -> None:
    mnist = load_mnist(data_dir)
    images, labels = mnist.train.images[:limit], mnist.train.labels[:limit].astype(int)
    test_images, test_labels = mnist.test.images[:test_limit], mnist.test.labels[:test_limit].astype(int)
    small = len(images) == 10_000 and len(test_images) == 1_000
    published = (
        (ARTICLE_SMALL_RUN if small else ARTICLE_FULL_RUN if len(images) == 60_000 else {})
        if recipe == "article"
        else {}
    )
    run = Run.start(recipe, seed)
    per_epoch = math.ceil(len(images) / RECIPES[recipe].batch_size)
    print(
        f"recipe {recipe!r}, seed {seed}: {len(images):,} training images, scored on {len(test_images):,} test images"
    )
    print("| epoch | held-out accuracy | held-out loss | the article's | seconds |")
    print("|---:|---:|---:|---:|---:|")
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        bar = progress_bar(per_epoch * RECIPES[recipe].batch_size, f"epoch {epoch}/{epochs}")
        done = 0
        while done < per_epoch:
            steps = min(CHUNK, per_epoch - done)
            losses = run.train(images, labels, steps)
            done += steps
            bar.update(steps * RECIPES[recipe].batch_size)
            bar.set_postfix(loss=f"{sum(losses) / len(losses):.4f}")
        bar.close()
        seconds = time.perf_counter() - started
        accuracy, loss = run.evaluate(test_images, test_labels)
        theirs = f"{published[epoch]:.2%}" if epoch in published else ""
        print(f"| {epoch} | {accuracy:.2%} | {loss:.3f} | {theirs} | {seconds:.1f} |", flush=True)
