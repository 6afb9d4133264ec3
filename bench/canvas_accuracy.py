"""Accuracy of POST /predict/image on canvas-like renderings of MNIST test digits.

    python bench/canvas_accuracy.py [--count 1000] [--data-dir ../shared/mnist]

Each test digit is re-drawn in every style of bench/renderings.py (centred,
off-centre, tiny, huge, thick, thin, inverted) as a PNG and sent through the
service, normalisation and all. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402
from bench.digits import add_argument, load  # noqa: E402
from bench.renderings import STYLES, render  # noqa: E402


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="test digits per style [%(default)s]")
    parser.add_argument("--data-dir", help="MNIST directory [$MNIST_DIR]")
    add_argument(parser)
    args = parser.parse_args()

    images, labels = load(args.data_dir, args.digits)
    pick = np.random.default_rng(0).choice(len(labels), args.count, replace=False)
    print(f"{args.count} MNIST {args.digits} digits per style, sent as PNG files to POST /predict/image\n")
    print("| style | canvas | accuracy |")
    print("|---|---|---:|")
    total_right = total = 0
    started = time.perf_counter()
    with TestClient(create_app(Settings())) as client:
        for style in STYLES:
            right = 0
            for i in pick:
                r = client.post("/predict/image", files={"file": ("d.png", png(render(images[i], style)))})
                right += r.status_code == 200 and r.json()["label"] == int(labels[i])
            total_right, total = total_right + right, total + len(pick)
            print(f"| {style.name} | {style.canvas}x{style.canvas} | {right / len(pick):.2%} |", flush=True)
    print(f"| **all** | | **{total_right / total:.2%}** |")
    print(f"\n{total} requests in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
