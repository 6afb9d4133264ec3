"""`python -m model.train`: train the article's network on MNIST, top to bottom.

    python -m model.train --recipe cnn --data-dir ../shared/mnist --out weights/cnn
    python -m model.train --recipe teacher --data-dir ../shared/mnist --out weights/teacher --no-test
    python -m model.train --data-dir ../shared/mnist --epochs 2 --limit 4000 --out /tmp/quick
    python -m model.train --recipe article --data-dir ../shared/mnist --epochs 10 --limit 10000 --test-limit 1000

A run is a recipe (model/training/recipes.py: an entry of its table, or the defaults, with the
options given put over it; model/training/cli.py). It starts from parameters drawn from the seed,
or from weights (--init, a fine-tune). Epoch after epoch it takes the recipe's steps
(model/training/steps.py: the same steps POST /train takes), scores the held-out images and
writes a checkpoint that --resume continues from exactly. A validation split, chosen once by a
fixed seed and recorded in the metadata, is held out of training; it calibrates the
probabilities at the end. The test set is read once, at the end, unless the run is an
experiment (--no-test). What is written: OUT.npz (the weights; with --ema, their average) and
OUT.json (the metadata). POST /train's recipes ("article", "ours") are replayed instead, scored
beside the article's own log (model/training/replay.py).
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

from . import load
from .cnn import CNN, as_labels
from .evaluate import evaluate
from .fast.memory import reuse_freed_memory
from .mnist import MNISTError, load_mnist
from .plots import plot_confusion, plot_learning_curves
from .training.ahead import DrawingFailed
from .training.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from .training.cli import check, parser, recipe_of
from .training.metadata import metadata, validation_and_calibration
from .training.optimizers import new_state
from .training.progress import progress_bar
from .training.recipes import NAMES, Recipe, initial_params
from .training.replay import replay
from .training.schedule import split
from .training.steps import State, steps
from .weights import WeightsError, paths


def train(
    recipe: Recipe, data_dir: str | None, out: str, resume: bool = False, plots_dir: str | None = None
) -> dict[str, Any]:
    """Train, then write the weights and metadata to out (.npz/.json). Returns the metadata."""
    # The data: the first `limit` training images, less the validation split, held out once and for all.
    mnist = load_mnist(data_dir)
    images = mnist.train.images[: recipe.limit]  # (60000, 28, 28) uint8
    labels = as_labels(mnist.train.labels[: recipe.limit], len(images))
    train_idx, val_idx = split(len(images), recipe.validation)
    train_images, train_labels = images[train_idx], labels[train_idx]
    n = len(train_images)
    per_epoch = math.ceil(n / recipe.batch_size)
    watch = "validation" if recipe.validation else "test"  # what is scored after each epoch
    watch_images, watch_labels = (
        (images[val_idx], labels[val_idx]) if recipe.validation else (mnist.test.images, mnist.test.labels)
    )

    # The network: as the recipe starts it (drawn from the seed, or read), or where the last checkpoint left it.
    checkpoint = paths(out)[0].with_suffix(".ckpt.npz")
    if resume and checkpoint.is_file():
        net, memory, done, history, average = load_checkpoint(checkpoint, recipe)
        print(f"resuming from {checkpoint} after epoch {done}", file=sys.stderr)
    else:
        if resume:
            print(f"no checkpoint at {checkpoint}; starting afresh", file=sys.stderr)
        net = CNN(initial_params(recipe, recipe.seed), recipe.architecture)
        memory, done, history, average = new_state(recipe.optimizer, net.params), 0, [], None
    if recipe.ema and average is None:
        average = {name: value.copy() for name, value in net.params.items()}
    teacher = load(recipe.teacher).frozen() if recipe.teacher and recipe.distill else None
    state = State(net.params, memory, average, done * per_epoch)

    # Training: an epoch of steps, then the held-out images scored and a checkpoint written.
    started = time.perf_counter()
    for epoch in range(done + 1, recipe.epochs + 1):
        loss_sum, correct, seen = 0.0, 0, 0
        epoch_start = time.perf_counter()
        bar = progress_bar(n, f"epoch {epoch}/{recipe.epochs}")
        for taken in steps(recipe, recipe.seed, state, train_images, train_labels, per_epoch, teacher):
            loss_sum += taken.loss * taken.images
            correct += taken.correct
            seen += taken.images
            bar.update(taken.images)
            if (state.step - 1) % 20 == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.2%}", lr=f"{taken.lr:.4f}")
        bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.2%}")
        bar.close()
        seconds = time.perf_counter() - epoch_start

        kept = CNN(state.average, net.architecture) if state.average is not None else net  # what the run would write
        scored = evaluate(kept, watch_images, watch_labels)
        history.append(
            {
                "epoch": epoch,
                "train_loss": loss_sum / seen,
                "train_accuracy": correct / seen,
                f"{watch}_loss": scored.loss,
                f"{watch}_accuracy": scored.accuracy,
                "seconds": seconds,
            }
        )
        print(
            f"epoch {epoch}: train loss {loss_sum / seen:.4f}, train accuracy {correct / seen:.2%}, "
            f"{watch} accuracy {scored.accuracy:.2%}, {seconds:.1f} s ({n / seconds:,.0f} img/s)",
            file=sys.stderr,
        )
        save_checkpoint(checkpoint, recipe, net, state.memory, epoch, history, state.average)

    # The end: the average is what is kept; the test set is read once (an experiment never reads it);
    # the validation split calibrates the probabilities; the weights and their metadata are written.
    if state.average is not None:
        net = CNN(state.average, net.architecture)
    test = evaluate(net, mnist.test.images, mnist.test.labels) if recipe.test else None
    written = metadata(recipe, test, history, n)
    if recipe.validation:
        written |= validation_and_calibration(
            net, mnist, labels, val_idx, len(images), history[-1]["validation_accuracy"], recipe.test
        )
    npz = net.save(out, written)
    print(
        f"test accuracy {f'{test.accuracy:.2%}' if test else 'not read'}; wrote {npz} and {paths(out)[1]} "
        f"({time.perf_counter() - started:.0f} s this run)",
        file=sys.stderr,
    )
    if plots_dir and test is not None:
        plot_learning_curves(history, Path(plots_dir) / "learning-curves.png")
        plot_confusion(
            test.confusion, Path(plots_dir) / "confusion.png", title=f"MNIST test set: {test.accuracy:.2%} correct"
        )
    return written


def main(argv: list[str] | None = None) -> int:
    options = parser()
    args = options.parse_args(argv)
    recipe = recipe_of(args)
    try:
        if recipe.name in NAMES:  # POST /train's recipes: replayed beside the article's log
            replay(recipe.name, args.data_dir, recipe.epochs, recipe.seed, recipe.limit, args.test_limit)
            return 0
        if problem := check(recipe):
            options.error(problem)
        reuse_freed_memory()  # see model/fast/memory.py
        train(recipe, args.data_dir, args.out, resume=args.resume, plots_dir=args.plots)
    except (MNISTError, CheckpointError, ValueError, WeightsError, DrawingFailed) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
