"""The MNIST digits a robustness benchmark draws from: the test set, or the validation split.

Choosing weights by the canvas or photo benchmarks must not read the test set (issue 37's honest
selection): `--digits validation` takes the 5,000 training images every training run holds out
(model/training/schedule.py's split), which no committed weights were trained on. The test digits
are for the figures of the weights finally committed.
"""

from __future__ import annotations

import argparse

import numpy as np

from model.mnist import load_mnist
from model.training.schedule import split

HELD_OUT = 5000  # the validation split of every MNIST recipe of model/training/recipes.py


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--digits",
        choices=("test", "validation"),
        default="test",
        help="MNIST's test digits, or the validation split held out of training (to choose weights by) [%(default)s]",
    )


def load(data_dir: str | None, which: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels (N,)) of the test set or of the validation split."""
    mnist = load_mnist(data_dir)
    if which == "test":
        return mnist.test.images, mnist.test.labels
    held_out = split(len(mnist.train.labels), HELD_OUT)[1]
    return mnist.train.images[held_out], mnist.train.labels[held_out]
