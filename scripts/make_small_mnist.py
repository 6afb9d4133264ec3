"""Write model/data/mnist-small.npz: the article's small run, shipped with the package.

    python scripts/make_small_mnist.py --data-dir ../shared/mnist

The first 10,000 MNIST training images and the first 1,000 test images, with their
labels, as uint8 in one compressed .npz; its SHA-256 goes into model/data/__init__.py
(SHA256), which checks it at every load.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model.data import FILE, TEST, TRAIN  # noqa: E402
from model.mnist import load_mnist  # noqa: E402
from model.weights import atomic_write_bytes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="MNIST directory [$MNIST_DIR]")
    args = parser.parse_args()
    mnist = load_mnist(args.data_dir)
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        train_images=mnist.train.images[:TRAIN],
        train_labels=mnist.train.labels[:TRAIN],
        test_images=mnist.test.images[:TEST],
        test_labels=mnist.test.labels[:TEST],
    )
    data = buf.getvalue()
    atomic_write_bytes(FILE, data)
    print(f"wrote {FILE} ({len(data):,} bytes), SHA-256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
