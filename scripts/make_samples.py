"""Write static/samples.json: the first image of each digit in MNIST's test set, for the page.

python scripts/make_samples.py --data-dir ../shared/mnist
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model.mnist import load_mnist  # noqa: E402
from model.weights import atomic_write_bytes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="MNIST directory [$MNIST_DIR]")
    parser.add_argument("--out", default=str(ROOT / "static" / "samples.json"))
    args = parser.parse_args()
    test = load_mnist(args.data_dir).test
    digits = []
    for label in range(10):
        index = int(np.flatnonzero(test.labels == label)[0])
        digits.append({"index": index, "label": label, "pixels": test.images[index].tolist()})
    sample = {
        "source": "MNIST test set (t10k-images-idx3-ubyte), the first image of each digit; "
        "Y. LeCun, C. Cortes, C. J. C. Burges, CC BY-SA 3.0",
        "digits": digits,
    }
    text = json.dumps(sample, separators=(",", ":")).replace('{"index"', '\n{"index"')
    atomic_write_bytes(args.out, (text + "\n").encode())
    print(f"wrote {args.out}: test images {[d['index'] for d in digits]}")


if __name__ == "__main__":
    main()
