"""A picture of how photos of paper become MNIST digits, one condition a row (needs matplotlib).

    python bench/photo_pipeline.py [--out docs/photos.png] [--data-dir ../shared/mnist]

Columns: the photo (bench/photos.py), the paper's estimated lightness (app/pictures/paper.py),
the ink on the paper, the digit kept (app/pictures/marks.py; dropped marks boxed in red), and
the 28x28 grid the network sees with its answer.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.api.service import Classifier  # noqa: E402
from app.config import Settings  # noqa: E402
from app.pictures.preprocessing import normalize, read_picture  # noqa: E402
from bench.photos import CONDITIONS  # noqa: E402
from model.mnist import load_mnist  # noqa: E402
from model.plots import _pyplot, _save  # noqa: E402

SHOWN = ("light from one side", "shadow edge", "tinted paper", "specks and ruled lines", "8x8 source", "thick felt pen")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="docs/photos.png", help="[%(default)s]")
    parser.add_argument("--data-dir", help="MNIST directory [$MNIST_DIR]")
    parser.add_argument("--seed", type=int, default=3, help="which photos [%(default)s]")
    args = parser.parse_args()

    test = load_mnist(args.data_dir).test
    clf = Classifier.load(Settings().weights)
    plt = _pyplot()
    rows = [c for c in CONDITIONS if c.name in SHOWN]
    fig, axes = plt.subplots(len(rows), 5, figsize=(13, 2.4 * len(rows)))
    rng = np.random.default_rng(args.seed)
    for row, condition in zip(axes, rows, strict=True):
        i = int(rng.integers(len(test.labels)))
        photo = condition.photo(test.images[i], rng)
        pixels = np.asarray(Image.open(io.BytesIO(photo)).convert("RGBA"), dtype=np.float64) / 255
        reading = read_picture(pixels)
        grid = normalize(reading.ink)
        p = clf.predict(grid)
        row[0].imshow(pixels[..., :3])
        row[1].imshow(reading.paper.paper, cmap="gray", vmin=0, vmax=1)
        row[2].imshow(reading.paper.ink, cmap="gray_r", vmin=0, vmax=1)
        row[3].imshow(reading.ink, cmap="gray_r", vmin=0, vmax=1)
        for mark in reading.dropped[:30]:
            left, top, right, bottom = mark.box
            row[3].add_patch(plt.Rectangle((left, top), right - left, bottom - top, fill=False, color="red", lw=0.8))
        row[4].imshow(grid, cmap="gray_r", vmin=0, vmax=1)
        row[0].set_ylabel(condition.name, fontsize=10)
        row[4].set_title(f"read {p.label} ({p.probabilities[p.label]:.0%}), is {test.labels[i]}", fontsize=9)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    titles = ("the photo", "the paper, estimated", "the ink on it", "the digit kept", "what the network sees")
    for ax, title in zip(axes[0], titles, strict=True):
        ax.set_title(title + ("\n" + ax.get_title() if ax.get_title() else ""), fontsize=10)
    fig.tight_layout()
    _save(fig, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
