"""Accuracy, per-class accuracy and confusion matrix of a weights file on MNIST's test set.

python -m model.evaluate --weights weights/cnn.npz --data-dir ../shared/mnist
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import load
from .architecture import NUM_CLASSES
from .cnn import CNN, calibrated
from .mnist import MNISTError, load_split, resolve_data_dir, to_float
from .plots import plot_confusion, plot_learning_curves, plot_mistakes
from .training.calibration import calibration_errors
from .weights import WeightsError, atomic_write_json, paths, read_metadata


class Evaluation(NamedTuple):
    accuracy: float
    per_class: np.ndarray  # (10,) accuracy on the images of each true digit
    confusion: np.ndarray  # (10, 10) counts: row = true digit, column = prediction
    loss: float  # mean cross-entropy

    def scorecard(self) -> dict[str, Any]:
        """The figures a weights file's metadata keeps of its test set."""
        return {
            "test_accuracy": self.accuracy,
            "test_loss": self.loss,
            "per_class_accuracy": [round(float(a), 6) for a in self.per_class],
            "confusion": self.confusion.tolist(),
        }


def predict_in_batches(net: CNN, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N, 10) probabilities, a batch at a time to bound memory."""
    return np.concatenate(
        [net.predict_proba(to_float(images[i : i + batch_size], net.dtype)) for i in range(0, len(images), batch_size)]
    )


def scores_in_batches(net: CNN, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """(N, 28, 28) uint8 -> the scores S (N, 10), a batch at a time to bound memory."""
    return np.concatenate(
        [net.scores(to_float(images[i : i + batch_size], net.dtype)) for i in range(0, len(images), batch_size)]
    )


def evaluate(net: CNN, images: np.ndarray, labels: np.ndarray, batch_size: int = 1000) -> Evaluation:
    """Score net on uint8 images (N, 28, 28) with their labels."""
    O = predict_in_batches(net, images, batch_size)
    predicted = O.argmax(axis=1)
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    loss = float(-np.log(np.maximum(O[np.arange(len(O)), labels], np.finfo(O.dtype).tiny)).mean())
    return Evaluation(float((predicted == labels).mean()), per_class, confusion, loss)


def report(ev: Evaluation, n: int) -> str:
    """The evaluation as a few lines of text, the confusion matrix as a table."""
    lines = [
        f"accuracy {ev.accuracy:.2%} on {n:,} images ({round((1 - ev.accuracy) * n)} wrong), mean loss {ev.loss:.4f}",
        "per class: " + "  ".join(f"{d}:{a:.1%}" for d, a in enumerate(ev.per_class)),
        "confusion (rows: true digit, columns: predicted):",
        "      " + "".join(f"{d:>6}" for d in range(NUM_CLASSES)),
    ]
    lines += [f"{d:>6}" + "".join(f"{c:>6}" for c in row) for d, row in enumerate(ev.confusion)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default="weights/cnn.npz", help="weights file (.npz) [%(default)s]")
    parser.add_argument("--data-dir", help="directory of the MNIST IDX files [$MNIST_DIR, else a download cache]")
    parser.add_argument("--split", choices=("test", "train"), default="test", help="[%(default)s]")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--plot", metavar="PNG", help="also draw the confusion matrix into this PNG")
    parser.add_argument(
        "--plots",
        metavar="DIR",
        help="draw learning-curves.png (from the weights' metadata), confusion.png and mistakes.png into DIR",
    )
    parser.add_argument(
        "--record",
        action="store_true",
        help="an experiment's weights (trained with --no-test), chosen on the validation split: read the test set "
        "for them, once, and write its figures into their .json; refused if their test figures are there already",
    )
    args = parser.parse_args(argv)
    if args.record and args.split != "test":
        parser.error("--record records the test set's figures")
    try:
        if args.record and read_metadata(args.weights).get("test_accuracy") is not None:
            print(f"error: {args.weights} has its test figures already; the test set is read once", file=sys.stderr)
            return 2
        net = load(args.weights)
        split = load_split(resolve_data_dir(args.data_dir), args.split)
    except (WeightsError, MNISTError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ev = evaluate(net, split.images, split.labels)
    if args.record:
        record(net, args.weights, ev, split.images, split.labels)
    if args.json:
        print(
            json.dumps(
                {
                    "accuracy": ev.accuracy,
                    "loss": ev.loss,
                    "per_class_accuracy": ev.per_class.tolist(),
                    "confusion": ev.confusion.tolist(),
                    "images": len(split.labels),
                },
                indent=2,
            )
        )
    else:
        print(report(ev, len(split.labels)))
    if args.plot:
        plot_confusion(ev.confusion, args.plot, title=f"{args.weights} on MNIST {args.split}: {ev.accuracy:.2%}")
        print(f"confusion matrix drawn in {args.plot}", file=sys.stderr)
    if args.plots:
        draw_pictures(net, read_metadata(args.weights), split.images, split.labels, ev, Path(args.plots))
        print(f"learning-curves.png, confusion.png and mistakes.png drawn in {args.plots}", file=sys.stderr)
    return 0


def record(net: CNN, weights: str, ev: Evaluation, images: np.ndarray, labels: np.ndarray) -> None:
    """The test set's figures written into the weights' .json (atomically; the .npz and its SHA-256 unchanged),
    as a run that reads the test set at its end (python -m model.train without --no-test) writes them."""
    metadata = read_metadata(weights)
    calibration = dict(metadata.get("calibration") or {})
    if "temperature" in calibration:
        before, after = calibration_errors(scores_in_batches(net, images), labels, calibration["temperature"])
        calibration["test_ece_before"], calibration["test_ece_after"] = before, after
    metadata |= ev.scorecard() | {"calibration": calibration}
    if isinstance(metadata.get("hyperparameters"), dict):
        metadata["hyperparameters"]["test"] = "read once, after the choice on the validation split"
    atomic_write_json(paths(weights)[1], metadata)
    print(f"the test set's figures written into {paths(weights)[1]}", file=sys.stderr)


def draw_pictures(net: CNN, metadata: dict, images: np.ndarray, labels: np.ndarray, ev: Evaluation, out: Path) -> None:
    """The README's pictures: how training went, what is confused with what, and the mistakes themselves."""
    if metadata.get("history"):
        plot_learning_curves(metadata["history"], out / "learning-curves.png")
    plot_confusion(ev.confusion, out / "confusion.png", title=f"MNIST test set: {ev.accuracy:.2%} correct")
    T = float((metadata.get("calibration") or {}).get("temperature", 1.0))
    plot_mistakes(images, labels, calibrated(scores_in_batches(net, images), T), out / "mistakes.png")


if __name__ == "__main__":
    sys.exit(main())
