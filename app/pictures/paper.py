"""A picture of paper -> the ink on it, whatever the light did to the paper.

A photo's lightness is the light falling on the sheet times what the sheet
reflects: L = I * R. Paper reflects most of the light, ink little, so the ink's
share of a pixel is 1 - L / P, where P is the paper's lightness at that pixel
(I times the paper's R). The light I varies across a photo (a lamp on one
side, vignetting, a shadow with a hard edge), so P is estimated locally:

  1. P on a coarse grid: each cell's brightest (slightly smoothed) pixel,
     then a grey-level closing (a maximum filter, then a minimum filter, both
     wider than any stroke) fills the cells that ink covers entirely. A
     closing removes dark features narrower than its window and keeps the
     steps of shadow edges where they are.
  2. P at each pixel: of the coarse estimates of its own and its eight
     neighbouring cells, the dimmest that is still as bright as the pixel
     (within the noise). A pixel just inside a shadow takes the shadow's paper,
     not the lit paper a cell away, so shadow edges leave no false ink.
  3. Ink = 1 - L / P, less the noise floor of the paper (robust spread of the
     ink over the whole picture, which is mostly paper).

Light ink on dark paper (a chalkboard, a white-on-black MNIST-style image) is
read by inverting the lightness first. Which one a picture is, is decided by
the border when it is uniform (drawings made on a computer) and otherwise by
which way the picture departs from its local median (ink is the minority).

A picture whose border is one flat colour was made on a computer (a canvas, a
cleaned-up scan): there P is that colour everywhere, as it always was, so the
page's JavaScript normalisation and the service's still agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

CELLS = 128  # the coarse grid's cells along the picture's longer side
CLOSING = 0.3  # the closing's window, as a fraction of the longer side: wider than any stroke
MEDIAN = 0.4  # the polarity vote's median window, as a fraction of the longer side
UNIFORM_BORDER = 0.01  # border pixels this near their median are the flat colour of a computer's canvas
FLAT_SHARE = 0.8  # a border this much flat colour was made on a computer (a photo's noise is wider)
EXACT_SHARE = 0.5  # ... or this much of one exact colour (a big digit may cover much of the border)
NOISE_FLOOR = 4.0  # paper ink beyond this many robust standard deviations counts as ink


@dataclass(frozen=True)
class Paper:
    """The ink on a picture and what was learnt on the way."""

    ink: np.ndarray  # (H, W) in [0, 1]: the share of light the ink took, 0 on bare paper
    paper: np.ndarray  # (H, W): the estimated lightness of the bare paper under each pixel
    light_on_dark: bool  # light ink on a dark background (the lightness was inverted)
    photo: bool  # not made on a computer: the border is not uniform
    uneven: float  # how much the paper's lightness varies across the picture (max - min of P)


def running_extreme(a: np.ndarray, k: int, axis: int, reduce: np.ufunc, outside: float) -> np.ndarray:
    """The max (or min) over a centred window of k (odd) along axis, beyond the edges `outside`:
    the van Herk-Gil-Werman algorithm, two cumulative passes per block of k, whatever k is."""
    a = np.moveaxis(a, axis, -1)
    n = a.shape[-1]
    r = k // 2
    blocks = math.ceil((n + 2 * r) / k)
    padded = np.pad(a, [(0, 0)] * (a.ndim - 1) + [(r, blocks * k - n - r)], constant_values=outside)
    shaped = padded.reshape(*a.shape[:-1], blocks, k)
    forward = reduce.accumulate(shaped, axis=-1).reshape(padded.shape)
    backward = reduce.accumulate(shaped[..., ::-1], axis=-1)[..., ::-1].reshape(padded.shape)
    out = reduce(backward[..., :n], forward[..., k - 1 : k - 1 + n])  # window [i, i + k) of padded
    return np.moveaxis(out, -1, axis)


def dilate(a: np.ndarray, k: int) -> np.ndarray:
    """The max of the k x k square around each pixel; what lies beyond the edges does not count."""
    low = -np.inf if a.dtype.kind == "f" else 0
    return running_extreme(running_extreme(a, k, 0, np.maximum, low), k, 1, np.maximum, low)


def erode(a: np.ndarray, k: int) -> np.ndarray:
    """The min of the k x k square around each pixel; what lies beyond the edges does not count."""
    high = np.inf if a.dtype.kind == "f" else np.iinfo(a.dtype).max
    return running_extreme(running_extreme(a, k, 0, np.minimum, high), k, 1, np.minimum, high)


def closing(a: np.ndarray, k: int) -> np.ndarray:
    """Grey-level closing: dark features narrower than k vanish, larger shapes and steps stay.
    Beyond the picture's edges nothing is assumed: a stroke cut by the frame is still a stroke."""
    return erode(dilate(a, k), k)


def cell_size(shape: tuple[int, ...]) -> int:
    return max(1, math.ceil(max(shape) / CELLS))


def blocks(a: np.ndarray, c: int, reduce: np.ufunc) -> np.ndarray:
    """Reduce each c x c block of a (edges repeated to whole blocks) to one value."""
    h, w = a.shape
    hc, wc = math.ceil(h / c), math.ceil(w / c)
    padded = np.pad(a, ((0, hc * c - h), (0, wc * c - w)), mode="edge")
    return reduce.reduce(reduce.reduce(padded.reshape(hc, c, wc, c), axis=3), axis=1)


def smooth3(a: np.ndarray) -> np.ndarray:
    """The mean of each 3 x 3 neighbourhood, edges repeated: takes the edge off sensor noise."""
    p = np.pad(a, 1, mode="edge")
    rows = p[:-2] + p[1:-1] + p[2:]
    return (rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]) / 9


def robust_spread(values: np.ndarray) -> tuple[float, float]:
    """(median, standard deviation estimated from the median absolute deviation)."""
    sample = values.ravel()[:: max(1, values.size // 65536)]  # a regular sample is plenty
    median = float(np.median(sample))
    return median, 1.4826 * float(np.median(np.abs(sample - median)))


def border_of(lightness: np.ndarray) -> np.ndarray:
    return np.concatenate([lightness[0], lightness[-1], lightness[:, 0], lightness[:, -1]])


def has_uniform_border(border: np.ndarray) -> bool:
    """Made on a computer (a canvas, a scan cleaned up): the border is one flat colour."""
    median = np.median(border)
    flat = np.abs(border - median) <= UNIFORM_BORDER  # strokes may touch the border
    return bool(flat.mean() >= FLAT_SHARE or (border == median).mean() >= EXACT_SHARE)


def is_light_on_dark(lightness: np.ndarray, border: np.ndarray, uniform: bool) -> bool:
    """Light ink on a dark ground? A uniform border answers; otherwise the ink is the minority
    that departs from the local median, and the vote goes to the side it departs to."""
    if uniform:
        return bool(np.median(border) < 0.5)
    c = max(1, math.ceil(max(lightness.shape) / 48))
    coarse = blocks(lightness, c, np.add) / (c * c)  # cell means (edge cells slightly off: no matter)
    k = 2 * round(MEDIAN * max(coarse.shape) / 2) + 1
    median = coarse
    for axis in (0, 1):  # a separable median: along columns, then rows (close enough for a vote)
        pad = [(0, 0), (0, 0)]
        pad[axis] = (k // 2, k // 2)
        median = np.median(sliding_window_view(np.pad(median, pad, mode="edge"), k, axis=axis), axis=-1)
    departure = coarse - median
    return bool(np.clip(departure, 0, None).sum() > np.clip(-departure, 0, None).sum())


def paper_estimate(lightness: np.ndarray) -> np.ndarray:
    """The bare paper's lightness under each pixel (steps 1 and 2 of the module's docstring)."""
    h, w = lightness.shape
    c = cell_size(lightness.shape)
    coarse = blocks(smooth3(lightness) if c > 1 else lightness, c, np.maximum)
    k = 2 * round(CLOSING * max(coarse.shape) / 2) + 1
    coarse = closing(coarse, k)
    if c == 1:
        return coarse
    _, noise = robust_spread(lightness - smooth3(lightness))
    floor = lightness - 3 * noise - 1e-6  # a candidate at least this bright may be the pixel's paper
    best = np.full((h, w), np.inf)
    padded = np.pad(coarse, 1, mode="edge")
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            near = padded[dy : dy + coarse.shape[0], dx : dx + coarse.shape[1]]
            candidate = np.repeat(np.repeat(near, c, axis=0), c, axis=1)[:h, :w]
            best = np.where((candidate >= floor) & (candidate < best), candidate, best)
    brightest = np.repeat(np.repeat(dilate(coarse, 3), c, axis=0), c, axis=1)[:h, :w]
    return np.where(np.isfinite(best), best, brightest)


def read_paper(lightness: np.ndarray) -> Paper:
    """(H, W) lightness in [0, 1] -> the ink on the paper (see the module's docstring)."""
    border = border_of(lightness)
    photo = not has_uniform_border(border)
    light_on_dark = is_light_on_dark(lightness, border, not photo)
    if light_on_dark:
        lightness, border = 1 - lightness, 1 - border
    if not photo:  # one flat colour around the drawing: that colour is the paper, everywhere
        paper = np.full_like(lightness, max(float(np.median(border)), 1e-12))
        return Paper(np.clip(1 - lightness / paper, 0, 1), paper, light_on_dark, photo, 0.0)
    paper = paper_estimate(lightness)
    ink = np.clip(1 - lightness / np.maximum(paper, 1e-3), 0, 1)
    median, spread = robust_spread(ink)
    floor = median + NOISE_FLOOR * spread
    if floor > 0:
        ink = np.clip((ink - floor) / (1 - floor), 0, 1)
    return Paper(ink, paper, light_on_dark, photo, float(paper.max() - paper.min()))
