"""The article's small run, shipped with the package: the first 10,000 MNIST training images
and the first 1,000 test images (mnist-small.npz, made by scripts/make_small_mnist.py).

MNIST (LeCun, Cortes, Burges) is distributed under CC BY-SA 3.0: MNIST-LICENCE.txt beside
this file says what that asks. The file's SHA-256 is checked at every load, so a damaged or
altered copy is refused rather than trained on.
"""

from __future__ import annotations

import hashlib
import io
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

FILE = Path(__file__).with_name("mnist-small.npz")
SHA256 = "9e833d6f3287f20a44bfa50e8c67b563787e7085f6707aa8bf6731011b156033"
TRAIN, TEST = 10_000, 1_000


class SmallMNIST(NamedTuple):
    train_images: np.ndarray  # (10000, 28, 28) uint8
    train_labels: np.ndarray  # (10000,) 0-9
    test_images: np.ndarray  # (1000, 28, 28) uint8
    test_labels: np.ndarray  # (1000,)


class DataError(RuntimeError):
    """The shipped data is missing or does not match its checksum."""


@cache
def small_mnist() -> SmallMNIST:
    """The shipped images, verified against SHA256 (once per process)."""
    try:
        data = FILE.read_bytes()
    except OSError as e:
        raise DataError(f"the shipped MNIST subset is missing ({FILE}): {e.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise DataError(f"{FILE.name} has SHA-256 {digest}, expected {SHA256}: the file is damaged or altered")
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = SmallMNIST(*(z[name] for name in SmallMNIST._fields))
    for a in arrays:
        a.flags.writeable = False
    return arrays
