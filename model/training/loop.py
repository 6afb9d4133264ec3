"""The offline trainer's loop: mini-batch SGD (momentum, Nesterov or Adam) on MNIST, with augmentation.

Each step is the article's update (66), k <- k - eta dL/dk, here with momentum (or Nesterov's
momentum, or Adam) and a cosine-decaying learning rate eta, on the mean gradient of a shuffled
batch, optionally of digits redrawn at random (augment.py). A validation split, chosen once by a
fixed seed and recorded in the metadata, is held out of training: it is scored after every epoch
and calibrates the probabilities at the end (calibration.py). The test set is scored once, at
the end. Every epoch writes a checkpoint that --resume continues from exactly.

Issue 37's levers (config.py): label smoothing and distillation from a teacher that sees the same
augmented batch (objectives.py), and an exponential moving average of the weights, which is then
what is scored and written.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import load
from ..cnn import CNN, as_labels
from ..evaluate import evaluate
from ..mnist import load_mnist, to_float
from ..plots import plot_confusion, plot_learning_curves
from ..weights import paths
from .augment import augment
from .checkpoints import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .metadata import metadata, validation_and_calibration
from .objectives import objective
from .optimizers import average_step, gradients, new_state, update
from .progress import progress_bar
from .schedule import cosine_lr, epoch_order, split


def train(
    cfg: TrainConfig, data_dir: str | None, out: str, resume: bool = False, plots_dir: str | None = None
) -> dict[str, Any]:
    """Train, then write the weights and metadata to out (.npz/.json). Returns the metadata."""
    mnist = load_mnist(data_dir)
    images = to_float(mnist.train.images[: cfg.limit])  # (60000, 28, 28) in [0, 1]
    labels = as_labels(mnist.train.labels[: cfg.limit], len(images))
    train_idx, val_idx = split(len(images), cfg.validation)
    train_images, train_labels = images[train_idx], labels[train_idx]
    n = len(train_images)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    watch = "validation" if cfg.validation else "test"  # what is scored after each epoch
    watch_images, watch_labels = (
        (mnist.train.images[val_idx], labels[val_idx]) if cfg.validation else (mnist.test.images, mnist.test.labels)
    )

    checkpoint = paths(out)[0].with_suffix(".ckpt.npz")
    if resume and checkpoint.is_file():
        net, state, done, history, average = load_checkpoint(checkpoint, cfg)
        print(f"resuming from {checkpoint} after epoch {done}", file=sys.stderr)
    else:
        if resume:
            print(f"no checkpoint at {checkpoint}; starting afresh", file=sys.stderr)
        net = CNN.random(cfg.seed, architecture=cfg.architecture)
        state = new_state(cfg.optimizer, net.params)
        done, history, average = 0, [], None
    if cfg.ema and average is None:
        average = {name: value.copy() for name, value in net.params.items()}
    teacher = load(cfg.teacher).frozen() if cfg.teacher and cfg.distill else None

    started = time.perf_counter()
    for epoch in range(done + 1, cfg.epochs + 1):
        order = epoch_order(cfg.seed, epoch, n)
        redraw = np.random.default_rng([cfg.seed, epoch, 1])  # the epoch's augmentations, repeatable
        # A network this small cannot fit every redrawing; a few clean epochs at the end, with the
        # learning rate low, settle it on the digits as MNIST draws them.
        redrawn = cfg.augment and epoch <= cfg.epochs - cfg.clean_epochs
        loss_sum, correct, seen = 0.0, 0, 0
        epoch_start = time.perf_counter()
        bar = progress_bar(n, f"epoch {epoch}/{cfg.epochs}")
        for step, start in enumerate(range(0, n, cfg.batch_size), start=(epoch - 1) * steps_per_epoch):
            idx = order[start : start + cfg.batch_size]
            batch = augment(train_images[idx], redraw) if redrawn else train_images[idx]
            teacher_S = teacher.scores(batch) if teacher is not None else None  # the view the student sees
            loss = (
                objective(train_labels[idx], cfg.label_smoothing, teacher_S, cfg.temperature, cfg.distill)
                if cfg.label_smoothing or teacher_S is not None
                else None  # the article's cross-entropy, on the fast path's own code
            )
            taught = gradients(net.params, batch, train_labels[idx], loss)
            lr = cosine_lr(cfg.lr, step, total_steps)
            update(cfg.optimizer, net.params, state, taught.grads, lr, cfg.momentum, step)
            if average is not None:
                average_step(average, net.params, cfg.ema)

            loss_sum += taught.loss * len(idx)
            correct += taught.correct
            seen += len(idx)
            bar.update(len(idx))
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.2%}", lr=f"{lr:.4f}")
        bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.2%}")
        bar.close()
        seconds = time.perf_counter() - epoch_start

        kept = CNN(average, net.architecture) if average is not None else net  # what the run would write
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
        save_checkpoint(checkpoint, cfg, net, state, epoch, history, average)

    if average is not None:
        net = CNN(average, net.architecture)
    # Experiments (cfg.test False) choose on the validation split and never read the test set.
    test = evaluate(net, mnist.test.images, mnist.test.labels) if cfg.test else None
    written = metadata(cfg, test, history, n)
    if cfg.validation:
        written |= validation_and_calibration(
            net, mnist, labels, val_idx, len(images), history[-1]["validation_accuracy"], cfg.test
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
