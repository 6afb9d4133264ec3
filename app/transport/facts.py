"""What an answer tells the metrics: time per stage, the digits read, and what the input looked like.

A handler fills one Facts as it works (in the server process or in a worker); it travels back with
the Answer, and the server process adds it to the metrics (app/transport/metrics.py). Only numbers travel,
never the image.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np


@dataclass(slots=True)
class Facts:
    started: float = field(default_factory=time.perf_counter)
    stages: list[tuple[str, float]] = field(default_factory=list)  # (stage, seconds), in order
    digits: list[int] = field(default_factory=list)  # one per image read
    unsure: int = 0  # how many of them were unsure
    looks: list[tuple[float, float, float]] = field(default_factory=list)  # (ink, x, y) of each input

    def lap(self, stage: str) -> None:
        """The time since the last lap (or the start) was spent on `stage`."""
        now = time.perf_counter()
        self.stages.append((stage, now - self.started))
        self.started = now

    def read(self, digits: list[int], unsure: int) -> None:
        self.digits += digits
        self.unsure += unsure

    def saw(self, inputs: np.ndarray) -> None:
        """The drift signal of an (H, W) input, or of each of (N, H, W), as it arrived: its mean ink,
        and its centre of mass (x, y) as a fraction of its width and height (0.5, 0.5 is the middle;
        NaN when it is blank). MNIST's normalised digits sit at about (0.13, 0.5, 0.5); what arrives
        drifts from there when people draw differently, or a client changes what it sends."""
        for ink, x_ink, y_ink in moments(inputs).reshape(-1, 3).tolist():  # Python floats: cheaper than NumPy's here
            self.looks.append((ink, x_ink / ink, y_ink / ink) if ink > 0 else (0.0, math.nan, math.nan))


def moments(inputs: np.ndarray) -> np.ndarray:
    """(..., H, W) -> (..., 3): the means of ink, of ink times x, and of ink times y, where x and y
    are a pixel centre's place as a fraction of the width and the height."""
    height, width = inputs.shape[-2:]
    if height * width <= SMALL:  # the common 28x28: one product with cached weights, a few µs
        return inputs.reshape(*inputs.shape[:-2], height * width) @ weights(height, width)
    rows, columns = inputs.sum(axis=-1), inputs.sum(axis=-2)  # a large drawing: no (H * W, 3) matrix
    x, y = (np.arange(width) + 0.5) / width, (np.arange(height) + 0.5) / height
    return np.stack([rows.sum(axis=-1), columns @ x, rows @ y], axis=-1) / (height * width)


SMALL = 64 * 64  # inputs of at most this many pixels use weights(); larger ones sum their rows and columns


@lru_cache(maxsize=8)
def weights(height: int, width: int) -> np.ndarray:
    """(H * W, 3): each pixel's share of the mean, times 1, its x and its y."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([np.ones(height * width), (x.ravel() + 0.5) / width, (y.ravel() + 0.5) / height], axis=1) / (
        height * width
    )
