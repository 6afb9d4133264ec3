"""Train the article's network on MNIST with mini-batch SGD and momentum.

    python -m model.train --data-dir ../shared/mnist --epochs 15 --out weights/cnn

Each step is the article's update (66), k <- k - eta dL/dk, with momentum and a
cosine-decaying learning rate eta, on the mean gradient of a shuffled batch.
After every epoch it scores the test set and writes a checkpoint that --resume
continues from; at the end it writes the weights and their metadata.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .evaluate import evaluate
from .memory import reuse_freed_memory
from .mnist import MNISTError, load_mnist, to_float
from .network import CNN, PARAM_SHAPES, Params, as_labels, backward, forward, mean_loss
from .weights import atomic_write_bytes, npz_bytes, paths


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 15
    batch_size: int = 32
    lr: float = 0.05  # eta at the start; it follows a half cosine down to 0
    momentum: float = 0.9
    seed: int = 0
    limit: int | None = None  # train on the first `limit` images only (quick runs)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed; the message says why."""


def learning_rate(cfg: TrainConfig, step: int, total_steps: int) -> float:
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))


def epoch_order(cfg: TrainConfig, epoch: int, n: int) -> np.ndarray:
    """The shuffle of an epoch depends only on (seed, epoch), so a resumed run repeats it exactly."""
    return np.random.default_rng([cfg.seed, epoch]).permutation(n)


def sgd_step(params: Params, velocity: Params, grads: Params, lr: float, momentum: float) -> None:
    """v <- momentum v - lr dL/dparam; param <- param + v: eq. (66) with momentum, in place."""
    for name, grad in grads.items():
        velocity[name] *= momentum
        velocity[name] -= lr * grad
        params[name] += velocity[name]


# --- checkpoints: parameters, momentum and history in one .npz, written atomically ---


def save_checkpoint(path: Path, cfg: TrainConfig, net: CNN, velocity: Params, epoch: int,
                    history: list[dict[str, float]]) -> None:
    state = json.dumps({"config": dataclasses.asdict(cfg), "epoch": epoch, "history": history})
    arrays = {**net.params, **{f"velocity_{k}": v for k, v in velocity.items()}, "state": np.array(state)}
    atomic_write_bytes(path, npz_bytes(arrays))


def load_checkpoint(path: Path, cfg: TrainConfig) -> tuple[CNN, Params, int, list[dict[str, float]]]:
    try:
        with np.load(path, allow_pickle=False) as z:
            state = json.loads(z["state"].item())
            net = CNN({k: z[k] for k in PARAM_SHAPES})
            velocity = {k: z[f"velocity_{k}"] for k in net.params}
    except (OSError, KeyError, ValueError) as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e}") from None
    differs = {k: (v, getattr(cfg, k)) for k, v in state["config"].items() if getattr(cfg, k) != v}
    if differs:
        said = ", ".join(f"{k}={was!r} (now {now!r})" for k, (was, now) in differs.items())
        raise CheckpointError(f"checkpoint {path} was made with {said}; resume with the same settings")
    return net, velocity, state["epoch"], state["history"]


# --- the recipe ---


def train(cfg: TrainConfig, data_dir: str | None, out: str, resume: bool = False,
          plots_dir: str | None = None) -> dict[str, Any]:
    """Train, then write the weights and metadata to out (.npz/.json). Returns the metadata."""
    mnist = load_mnist(data_dir)
    train_images = to_float(mnist.train.images[: cfg.limit])  # (60000, 28, 28) in [0, 1]
    train_labels = as_labels(mnist.train.labels[: cfg.limit], len(train_images))
    n = len(train_images)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch

    checkpoint = paths(out)[0].with_suffix(".ckpt.npz")
    if resume and checkpoint.is_file():
        net, velocity, done, history = load_checkpoint(checkpoint, cfg)
        print(f"resuming from {checkpoint} after epoch {done}", file=sys.stderr)
    else:
        if resume:
            print(f"no checkpoint at {checkpoint}; starting afresh", file=sys.stderr)
        net = CNN.random(cfg.seed)
        velocity = {k: np.zeros_like(v) for k, v in net.params.items()}
        done, history = 0, []

    started = time.perf_counter()
    for epoch in range(done + 1, cfg.epochs + 1):
        order = epoch_order(cfg, epoch, n)
        loss_sum, correct, seen = 0.0, 0, 0
        epoch_start = time.perf_counter()
        bar = tqdm(total=n, desc=f"epoch {epoch}/{cfg.epochs}", unit="img", unit_scale=True,
                   dynamic_ncols=True, mininterval=0.5, file=sys.stderr)
        for step, start in enumerate(range(0, n, cfg.batch_size), start=(epoch - 1) * steps_per_epoch):
            idx = order[start : start + cfg.batch_size]
            fw = forward(net.params, train_images[idx])
            y = train_labels[idx]
            grads = backward(net.params, fw, y)
            lr = learning_rate(cfg, step, total_steps)
            sgd_step(net.params, velocity, grads, lr, cfg.momentum)

            loss_sum += mean_loss(fw, y) * len(idx)
            correct += int((fw.O.argmax(axis=1) == y).sum())
            seen += len(idx)
            bar.update(len(idx))
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.2%}", lr=f"{lr:.4f}")
        bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.2%}")
        bar.close()
        seconds = time.perf_counter() - epoch_start

        test = evaluate(net, mnist.test.images, mnist.test.labels)
        history.append({"epoch": epoch, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
                        "test_loss": test.loss, "test_accuracy": test.accuracy, "seconds": seconds})
        print(f"epoch {epoch}: train loss {loss_sum / seen:.4f}, train accuracy {correct / seen:.2%}, "
              f"test accuracy {test.accuracy:.2%}, {seconds:.1f} s ({n / seconds:,.0f} img/s)", file=sys.stderr)
        save_checkpoint(checkpoint, cfg, net, velocity, epoch, history)

    test = evaluate(net, mnist.test.images, mnist.test.labels)
    metadata = {
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
        "per_class_accuracy": [round(float(a), 6) for a in test.per_class],
        "confusion": test.confusion.tolist(),
        "epochs": cfg.epochs,
        "train_images": n,
        "hyperparameters": dataclasses.asdict(cfg),
        "optimizer": "mini-batch SGD, momentum, cosine learning-rate decay to 0",
        "history": history,
        "seconds_training": round(sum(h["seconds"] for h in history), 1),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
    }
    npz = net.save(out, metadata)
    print(f"test accuracy {test.accuracy:.2%}; wrote {npz} and {paths(out)[1]} "
          f"({time.perf_counter() - started:.0f} s this run)", file=sys.stderr)
    if plots_dir:
        from .plots import plot_confusion, plot_learning_curves

        plot_learning_curves(history, Path(plots_dir) / "learning-curves.png")
        plot_confusion(test.confusion, Path(plots_dir) / "confusion.png",
                       title=f"MNIST test set: {test.accuracy:.2%} correct")
    return metadata


def main(argv: list[str] | None = None) -> int:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="[%(default)s]")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="[%(default)s]")
    parser.add_argument("--lr", type=float, default=defaults.lr, help="initial learning rate [%(default)s]")
    parser.add_argument("--momentum", type=float, default=defaults.momentum, help="[%(default)s]")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="[%(default)s]")
    parser.add_argument("--limit", type=int, help="train on the first LIMIT images only")
    parser.add_argument("--data-dir", help="directory of the MNIST IDX files [$MNIST_DIR, else a download cache]")
    parser.add_argument("--out", default="weights/cnn", help="weights to write, OUT.npz and OUT.json [%(default)s]")
    parser.add_argument("--resume", action="store_true", help="continue from OUT.ckpt.npz if it exists")
    parser.add_argument("--plots", metavar="DIR", help="draw learning curves and the confusion matrix here")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or not 0 <= args.momentum < 1:
        parser.error("need epochs >= 1, batch size >= 1, lr > 0 and 0 <= momentum < 1")
    cfg = TrainConfig(args.epochs, args.batch_size, args.lr, args.momentum, args.seed, args.limit)
    reuse_freed_memory()  # 1.3-2x faster steps; see model/memory.py
    try:
        train(cfg, args.data_dir, args.out, resume=args.resume, plots_dir=args.plots)
    except (MNISTError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
