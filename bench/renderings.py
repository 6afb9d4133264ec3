"""MNIST digits re-drawn the way people draw on a canvas: somewhere, at some size, thick or thin.

Used by the normalisation tests and by bench/canvas_accuracy.py: each rendering
is a large canvas image whose digit the service must still recognise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image


@dataclass(frozen=True)
class Style:
    name: str
    canvas: int = 280  # side of the square canvas, in pixels
    height: int = 200  # height of the digit's ink on the canvas
    where: tuple[float, float] = (0.5, 0.5)  # centre of the digit, as fractions of the canvas
    thicken: int = 0  # extra stroke width, in canvas pixels (a max filter); negative: thinner
    inverted: bool = False  # light ink on a dark canvas


STYLES = (
    Style("centred"),
    Style("off-centre", height=120, where=(0.3, 0.72)),
    Style("tiny", height=40, where=(0.75, 0.25)),
    Style("huge", canvas=600, height=580),
    Style("thick", thicken=14),
    Style("thin", canvas=800, height=500, where=(0.6, 0.4), thicken=-24),
    Style("inverted", inverted=True, height=160, where=(0.45, 0.55)),
)


def square_filter(image: np.ndarray, k: int, reduce) -> np.ndarray:
    """The max (or min) of the k x k square around each pixel, k odd; the size is kept."""
    padded = np.pad(image, k // 2, mode="edge")
    rows = reduce(sliding_window_view(padded, k, axis=0), axis=-1)
    return reduce(sliding_window_view(rows, k, axis=1), axis=-1)


def render(digit: np.ndarray, style: Style) -> np.ndarray:
    """A (28, 28) uint8 MNIST digit -> a (canvas, canvas) uint8 greyscale image of it."""
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    ink = Image.fromarray(digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    scale = style.height / ink.height
    ink = ink.resize((max(1, round(ink.width * scale)), style.height), Image.Resampling.BICUBIC)
    if style.thicken:
        ink = Image.fromarray(
            square_filter(np.asarray(ink), 2 * (abs(style.thicken) // 2) + 1, np.max if style.thicken > 0 else np.min)
        )
    canvas = Image.new("L", (style.canvas, style.canvas), 0)
    top = int(style.where[0] * style.canvas - ink.height / 2)
    left = int(style.where[1] * style.canvas - ink.width / 2)
    top = min(max(top, 0), style.canvas - ink.height)
    left = min(max(left, 0), style.canvas - ink.width)
    canvas.paste(ink, (left, top))
    light_ink = np.asarray(canvas)
    return light_ink if style.inverted else 255 - light_ink  # people draw dark ink on white
