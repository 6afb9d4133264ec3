"""Accuracy of POST /predict/image on photos of MNIST test digits written on paper.

    python bench/photo_accuracy.py [--count 500] [--only "shadow edge"] [--data-dir ../shared/mnist]

Each test digit is photographed (bench/photos.py: printed as ink on paper, lit,
blurred, noisy, saved as JPEG) in every condition and sent through the service,
decoding and normalisation and all. Prints a Markdown table for BENCHMARKS.md;
--save writes a few photos of each condition to a folder, to look at.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402
from bench.digits import add_argument, load  # noqa: E402
from bench.photos import CONDITIONS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=500, help="test digits per condition [%(default)s]")
    parser.add_argument("--only", action="append", help="only this condition (repeatable)")
    parser.add_argument("--data-dir", help="MNIST directory [$MNIST_DIR]")
    add_argument(parser)
    parser.add_argument("--save", type=Path, help="write the first 8 photos of each condition here")
    args = parser.parse_args()

    images, labels = load(args.data_dir, args.digits)
    pick = np.random.default_rng(0).choice(len(labels), args.count, replace=False)
    conditions = [c for c in CONDITIONS if not args.only or c.name in args.only]
    print(
        f"{args.count} MNIST {args.digits} digits per condition, photographed, sent as JPEGs to POST /predict/image\n"
    )
    print("| condition | what | accuracy | dropped marks |")
    print("|---|---|---:|---:|")
    total_right = total = 0
    started = time.perf_counter()
    with TestClient(create_app(Settings())) as client, ThreadPoolExecutor(2) as threads:

        def read(photo: bytes) -> dict:
            r = client.post("/predict/image", files={"file": ("photo.jpg", photo, "image/jpeg")})
            return r.json() if r.status_code == 200 else {"label": -1, "error": r.text}

        for c in conditions:
            rng = np.random.default_rng(1)  # the same digits in every condition, photographed afresh
            photos = [c.photo(images[i], rng) for i in pick]
            if args.save:
                args.save.mkdir(parents=True, exist_ok=True)
                for j, photo in enumerate(photos[:8]):
                    (args.save / f"{c.name.replace(' ', '-')}-{j}-{labels[pick[j]]}.jpg").write_bytes(photo)
            answers = list(threads.map(read, photos))
            right = sum(a["label"] == int(labels[i]) for a, i in zip(answers, pick, strict=True))
            dropped = sum(len(a.get("reading", {}).get("dropped", [])) for a in answers)
            total_right, total = total_right + right, total + len(pick)
            print(f"| {c.name} | {c.about} | {right / len(pick):.1%} | {dropped} |", flush=True)
    print(f"| **all** | | **{total_right / total:.1%}** | |")
    print(f"\n{total} requests in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
