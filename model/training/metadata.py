"""What the offline trainer writes beside the weights (OUT.json): the scorecard on the test set, the
settings, the history, the machine, and, with a validation split, the split's rule and the
calibration fitted on it (calibration.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import platform
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ..cnn import CNN
from ..evaluate import Evaluation
from ..mnist import MNIST, to_float
from .augment import Augmentation
from .calibration import calibrate, calibration_errors
from .recipes import Recipe
from .schedule import SPLIT_SEED

DESCRIPTIONS = {
    "momentum": "mini-batch SGD with momentum",
    "nesterov": "mini-batch SGD with Nesterov momentum",
    "adam": "Adam",
    "sgd": "mini-batch SGD (eq. 66)",
}


def metadata(
    cfg: Recipe, test: Evaluation | None, history: list[dict[str, float]], train_images: int
) -> dict[str, Any]:
    """The scorecard (None for an experiment, which does not read the test set), the settings and the run's history."""
    scorecard: dict[str, Any] = {"test_accuracy": None} if test is None else test.scorecard()
    result: dict[str, Any] = {
        **scorecard,
        "epochs": cfg.epochs,
        "train_images": train_images,
        "hyperparameters": dataclasses.asdict(cfg),
        "optimizer": DESCRIPTIONS[cfg.optimizer] + ", cosine learning-rate decay to 0",
        "history": history,
        "seconds_training": round(sum(h["seconds"] for h in history), 1),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
    }
    if cfg.augment:
        result["augmentation"] = {**Augmentation().as_dict(), "epochs": cfg.epochs - cfg.clean_epochs}
    return result


def validation_and_calibration(
    net: CNN, mnist: MNIST, labels: np.ndarray, val_idx: np.ndarray, n: int, accuracy: float, test: bool = True
) -> dict[str, Any]:
    """The held-out split (the first len(val_idx) of SPLIT_SEED's permutation of the first n training
    images) and the temperature fitted on it, with the test set's calibration error before and after."""
    S = net.scores(to_float(mnist.train.images[val_idx], net.dtype))
    cal = calibrate(S, labels[val_idx])
    calibration: dict[str, Any] = {**cal._asdict()}
    if test:
        test_S = net.scores(to_float(mnist.test.images, net.dtype))
        before, after = calibration_errors(test_S, mnist.test.labels, cal.temperature)
        calibration["test_ece_before"], calibration["test_ece_after"] = before, after
    return {
        "validation": {
            "images": int(len(val_idx)),
            "rule": f"the first {len(val_idx)} of np.random.default_rng({SPLIT_SEED}).permutation({n}) "
            "of the MNIST training images, held out of training",
            "indices_sha256": hashlib.sha256(val_idx.astype("<i8").tobytes()).hexdigest(),
            "accuracy": accuracy,
        },
        "calibration": {
            **calibration,
            "method": "temperature scaling fitted on the validation split; the service answers softmax(S / T) and "
            "says it is unsure when the top probability is below unsure_below",
        },
    }
