"""Accuracy of POST /predict/image on handwriting that is not MNIST's: UCI's 8x8 optical digits.

    python bench/other_sources.py [--weights weights/cnn.npz]

The 1,797 digits of the UCI "Optical Recognition of Handwritten Digits" test set (Alpaydin and
Kaynak, 1998; 13 writers, none of them MNIST's; shipped inside scikit-learn as `load_digits`,
CC BY 4.0), scanned as 32x32 bitmaps and reduced to 8x8 counts of ink (0-16). Each is written as
a PNG, dark ink on white paper, and sent through the service as a person's picture would be:
decoding, the paper, the marks, normalisation, the network. Three ways of looking at one scan:

- the 8x8 scan itself, as an 8x8 picture;
- blown up 20x with nearest-neighbour (square pixels, as an image viewer shows it);
- blown up 20x smoothly (bicubic, as a camera or a scanner's driver would give it).

Prints a Markdown table for BENCHMARKS.md. scikit-learn is the benchmarks' only source of the
data (`pip install scikit-learn`; the bench extra names it).
"""

from __future__ import annotations

import argparse
import io
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

Scan = Callable[[np.ndarray], Image.Image]
SCANS: dict[str, Scan] = {
    "8x8 as scanned": lambda img: img,
    "blown up 20x, square pixels": lambda img: img.resize((160, 160), Image.Resampling.NEAREST),
    "blown up 20x, smooth": lambda img: img.resize((160, 160), Image.Resampling.BICUBIC),
}


def as_png(counts: np.ndarray, scan: Scan) -> bytes:
    """An 8x8 grid of ink counts (0-16) as a PNG of dark ink on white paper, looked at one way."""
    grey = np.round(255 - counts * (255 / 16)).astype(np.uint8)
    out = io.BytesIO()
    scan(Image.fromarray(grey, mode="L")).save(out, format="PNG")
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", help="the weights to serve [$CNN_WEIGHTS, else the committed ones]")
    args = parser.parse_args()
    if args.weights:
        os.environ["CNN_WEIGHTS"] = args.weights
    from sklearn.datasets import load_digits  # the benchmark's data source only

    from app.config import Settings
    from app.main import create_app

    digits = load_digits()
    labels = digits.target
    print(f"{len(labels)} UCI optical digits (8x8, 13 writers), sent as PNG files to POST /predict/image\n")
    print("| scan | accuracy | unsure | accuracy when sure |")
    print("|---|---:|---:|---:|")
    started = time.perf_counter()
    with TestClient(create_app(Settings())) as client, ThreadPoolExecutor(2) as threads:

        def read(png: bytes) -> dict:
            r = client.post("/predict/image", files={"file": ("scan.png", png, "image/png")})
            return r.json() if r.status_code == 200 else {"label": -1, "unsure": True, "error": r.text}

        for name, scan in SCANS.items():
            answers = list(threads.map(read, (as_png(img, scan) for img in digits.images)))
            right = np.array([a["label"] == int(y) for a, y in zip(answers, labels, strict=True)])
            unsure = np.array([bool(a.get("unsure")) for a in answers])
            sure = right[~unsure].mean() if (~unsure).any() else float("nan")
            print(f"| {name} | {right.mean():.1%} | {unsure.mean():.1%} | {sure:.1%} |", flush=True)
    print(f"\n{len(labels) * len(SCANS)} requests in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
