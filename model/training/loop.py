"""Train the article's network on MNIST: mini-batch SGD (momentum, Nesterov or Adam), augmentation.

    python -m model.train --data-dir ../shared/mnist --epochs 40 --augment --out weights/cnn

Each step is the article's update (66), k <- k - eta dL/dk, here with momentum (or Nesterov's
momentum, or Adam) and a cosine-decaying learning rate eta, on the mean gradient of a shuffled
batch, optionally of digits redrawn at random (model/augment.py). A validation split, chosen
once by a fixed seed and recorded in the metadata, is held out of training: it is scored after
every epoch and calibrates the probabilities at the end (model/calibration.py). The test set is
scored once, at the end. Every epoch writes a checkpoint that --resume continues from exactly.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
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

from . import fast
from .architecture import PARAM_SHAPES
from .augment import Augmentation, augment
from .calibration import calibrate, expected_calibration_error
from .cnn import CNN
from .evaluate import evaluate
from .fast.memory import reuse_freed_memory
from .layers import softmax
from .mnist import MNISTError, load_mnist, to_float
from .network import Params, as_labels, batch_gradients
from .recipes import NAMES as RECIPE_NAMES
from .replay import replay
from .weights import atomic_write_bytes, npz_bytes, paths

OPTIMIZERS = ("momentum", "nesterov", "adam")
SPLIT_SEED = 20200227  # chooses the validation images, once and for all (independent of --seed)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 15
    batch_size: int = 32
    lr: float = 0.05  # eta at the start; it follows a half cosine down to 0
    momentum: float = 0.9  # for Adam: beta1
    seed: int = 0
    limit: int | None = None  # train on the first `limit` images only (quick runs)
    optimizer: str = "momentum"
    augment: bool = False
    validation: int = 0  # images held out of the training set for validation and calibration
    clean_epochs: int = 0  # with augment: the last epochs train on the digits as they are


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


def nesterov_step(params: Params, velocity: Params, grads: Params, lr: float, momentum: float) -> None:
    """Nesterov's momentum: the step looks ahead along the velocity, param += momentum v - lr dL/dparam."""
    for name, grad in grads.items():
        velocity[name] *= momentum
        velocity[name] -= lr * grad
        params[name] += momentum * velocity[name] - lr * grad


ADAM_BETA2, ADAM_EPS = 0.999, 1e-8


def adam_step(params: Params, state: Params, grads: Params, lr: float, beta1: float, t: int) -> None:
    """Adam (Kingma and Ba, 2015): steps scaled by running estimates of each gradient's size."""
    for name, grad in grads.items():
        m, v = state[name], state[f"{name}_v"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= ADAM_BETA2
        v += (1 - ADAM_BETA2) * grad * grad
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - ADAM_BETA2**t)
        params[name] -= lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)


def new_state(cfg: TrainConfig, params: Params) -> Params:
    """The optimiser's memory: the velocity (momentum, Nesterov), or Adam's two moments."""
    state = {k: np.zeros_like(v) for k, v in params.items()}
    if cfg.optimizer == "adam":
        state |= {f"{k}_v": np.zeros_like(v) for k, v in params.items()}
    return state


def update(cfg: TrainConfig, params: Params, state: Params, grads: Params, lr: float, step: int) -> None:
    if cfg.optimizer == "adam":
        adam_step(params, state, grads, lr, cfg.momentum, step + 1)
    elif cfg.optimizer == "nesterov":
        nesterov_step(params, state, grads, lr, cfg.momentum)
    else:
        sgd_step(params, state, grads, lr, cfg.momentum)


def split(n: int, validation: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation indices of the first n images: a permutation by SPLIT_SEED, cut once."""
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    return np.sort(order[validation:]), np.sort(order[:validation])


# --- checkpoints: parameters, momentum and history in one .npz, written atomically ---


def save_checkpoint(
    path: Path, cfg: TrainConfig, net: CNN, velocity: Params, epoch: int, history: list[dict[str, float]]
) -> None:
    state = json.dumps({"config": dataclasses.asdict(cfg), "epoch": epoch, "history": history})
    arrays = {**net.params, **{f"optimizer_{k}": v for k, v in velocity.items()}, "state": np.array(state)}
    atomic_write_bytes(path, npz_bytes(arrays))


def load_checkpoint(path: Path, cfg: TrainConfig) -> tuple[CNN, Params, int, list[dict[str, float]]]:
    try:
        with np.load(path, allow_pickle=False) as z:
            state = json.loads(z["state"].item())
            net = CNN({k: z[k] for k in PARAM_SHAPES})
            velocity = {k.removeprefix("optimizer_"): z[k] for k in z.files if k.startswith("optimizer_")}
    except (OSError, KeyError, ValueError) as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e}") from None
    differs = {k: (v, getattr(cfg, k)) for k, v in state["config"].items() if getattr(cfg, k) != v}
    if differs:
        said = ", ".join(f"{k}={was!r} (now {now!r})" for k, (was, now) in differs.items())
        raise CheckpointError(f"checkpoint {path} was made with {said}; resume with the same settings")
    return net, velocity, state["epoch"], state["history"]


# --- the recipe ---


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
        net, state, done, history = load_checkpoint(checkpoint, cfg)
        print(f"resuming from {checkpoint} after epoch {done}", file=sys.stderr)
    else:
        if resume:
            print(f"no checkpoint at {checkpoint}; starting afresh", file=sys.stderr)
        net = CNN.random(cfg.seed)
        state = new_state(cfg, net.params)
        done, history = 0, []

    # The loss and gradient of a batch: model/fast/'s, unless it is switched off (the reference's, slower).
    training_pass = fast.batch_gradients if fast.enabled() else batch_gradients
    started = time.perf_counter()
    for epoch in range(done + 1, cfg.epochs + 1):
        order = epoch_order(cfg, epoch, n)
        redraw = np.random.default_rng([cfg.seed, epoch, 1])  # the epoch's augmentations, repeatable
        # A network this small cannot fit every redrawing; a few clean epochs at the end, with the
        # learning rate low, settle it on the digits as MNIST draws them.
        redrawn = cfg.augment and epoch <= cfg.epochs - cfg.clean_epochs
        loss_sum, correct, seen = 0.0, 0, 0
        epoch_start = time.perf_counter()
        bar = tqdm(
            total=n,
            desc=f"epoch {epoch}/{cfg.epochs}",
            unit="img",
            unit_scale=True,
            dynamic_ncols=True,
            mininterval=0.5,
            file=sys.stderr,
        )
        for step, start in enumerate(range(0, n, cfg.batch_size), start=(epoch - 1) * steps_per_epoch):
            idx = order[start : start + cfg.batch_size]
            batch = augment(train_images[idx], redraw) if redrawn else train_images[idx]
            taught = training_pass(net.params, batch, train_labels[idx])
            lr = learning_rate(cfg, step, total_steps)
            update(cfg, net.params, state, taught.grads, lr, step)

            loss_sum += taught.loss * len(idx)
            correct += taught.correct
            seen += len(idx)
            bar.update(len(idx))
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.2%}", lr=f"{lr:.4f}")
        bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.2%}")
        bar.close()
        seconds = time.perf_counter() - epoch_start

        scored = evaluate(net, watch_images, watch_labels)
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
        save_checkpoint(checkpoint, cfg, net, state, epoch, history)

    test = evaluate(net, mnist.test.images, mnist.test.labels)
    metadata: dict[str, Any] = {
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
        "per_class_accuracy": [round(float(a), 6) for a in test.per_class],
        "confusion": test.confusion.tolist(),
        "epochs": cfg.epochs,
        "train_images": n,
        "hyperparameters": dataclasses.asdict(cfg),
        "optimizer": {
            "momentum": "mini-batch SGD with momentum",
            "nesterov": "mini-batch SGD with Nesterov momentum",
            "adam": "Adam",
        }[cfg.optimizer]
        + ", cosine learning-rate decay to 0",
        "history": history,
        "seconds_training": round(sum(h["seconds"] for h in history), 1),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
    }
    if cfg.augment:
        metadata["augmentation"] = {**Augmentation().as_dict(), "epochs": cfg.epochs - cfg.clean_epochs}
    if cfg.validation:
        S = net.scores(to_float(mnist.train.images[val_idx], net.dtype))
        cal = calibrate(S, labels[val_idx])
        test_S = net.scores(to_float(mnist.test.images, net.dtype)).astype(np.float64)
        metadata["validation"] = {
            "images": int(len(val_idx)),
            "rule": f"the first {len(val_idx)} of np.random.default_rng({SPLIT_SEED}).permutation({len(images)}) "
            "of the MNIST training images, held out of training",
            "indices_sha256": hashlib.sha256(val_idx.astype("<i8").tobytes()).hexdigest(),
            "accuracy": history[-1]["validation_accuracy"],
        }
        metadata["calibration"] = {
            **cal._asdict(),
            "test_ece_before": expected_calibration_error(softmax(test_S), mnist.test.labels),
            "test_ece_after": expected_calibration_error(softmax(test_S / cal.temperature), mnist.test.labels),
            "method": "temperature scaling fitted on the validation split; the service answers softmax(S / T) and "
            "says it is unsure when the top probability is below unsure_below",
        }
    npz = net.save(out, metadata)
    print(
        f"test accuracy {test.accuracy:.2%}; wrote {npz} and {paths(out)[1]} "
        f"({time.perf_counter() - started:.0f} s this run)",
        file=sys.stderr,
    )
    if plots_dir:
        from .plots import plot_confusion, plot_learning_curves

        plot_learning_curves(history, Path(plots_dir) / "learning-curves.png")
        plot_confusion(
            test.confusion, Path(plots_dir) / "confusion.png", title=f"MNIST test set: {test.accuracy:.2%} correct"
        )
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
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer, help="[%(default)s]")
    parser.add_argument("--augment", action="store_true", help="redraw every training digit at random (augment.py)")
    parser.add_argument(
        "--clean-epochs",
        type=int,
        default=defaults.clean_epochs,
        help="with --augment, train the last N epochs on unaltered digits [%(default)s]",
    )
    parser.add_argument(
        "--validation",
        type=int,
        default=defaults.validation,
        help="hold out this many training images to validate and calibrate [%(default)s]",
    )
    parser.add_argument("--data-dir", help="directory of the MNIST IDX files [$MNIST_DIR, else a download cache]")
    parser.add_argument("--out", default="weights/cnn", help="weights to write, OUT.npz and OUT.json [%(default)s]")
    parser.add_argument("--resume", action="store_true", help="continue from OUT.ckpt.npz if it exists")
    parser.add_argument("--plots", metavar="DIR", help="draw learning curves and the confusion matrix here")
    parser.add_argument(
        "--recipe",
        choices=RECIPE_NAMES,
        help="replay a recipe of model/recipes.py (the article's, or ours on its terms) epoch by epoch, "
        "scored beside the article's log; only --epochs, --seed, --limit, --test-limit and --data-dir apply",
    )
    parser.add_argument("--test-limit", type=int, help="with --recipe: score on the first N test images only")
    args = parser.parse_args(argv)
    if args.recipe:
        try:
            replay(args.recipe, args.data_dir, args.epochs, args.seed, args.limit, args.test_limit)
        except MNISTError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or not 0 <= args.momentum < 1:
        parser.error("need epochs >= 1, batch size >= 1, lr > 0 and 0 <= momentum < 1")
    cfg = TrainConfig(
        args.epochs,
        args.batch_size,
        args.lr,
        args.momentum,
        args.seed,
        args.limit,
        args.optimizer,
        args.augment,
        args.validation,
        args.clean_epochs,
    )
    reuse_freed_memory()  # see model/fast/memory.py
    try:
        train(cfg, args.data_dir, args.out, resume=args.resume, plots_dir=args.plots)
    except (MNISTError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
