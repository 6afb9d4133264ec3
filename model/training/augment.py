"""On-the-fly data augmentation: MNIST digits redrawn as people draw them, a whole batch at once.

Each image gets its own random affine warp (rotation, scaling, shear, shift), a smooth elastic
distortion (Simard et al., 2003) and, now and then, thicker or thinner strokes. Everything is
array arithmetic over the batch: the warp is one bilinear resampling of all images, the
elastic fields are white noise blurred by two matrix products, strokes change by a grey-level
dilation or erosion with a plus-shaped window.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache

import numpy as np

Array = np.ndarray


@dataclass(frozen=True)
class Augmentation:
    rotation_degrees: float = 12.0  # uniform in +-
    scale: tuple[float, float] = (0.85, 1.12)  # uniform; applied to both axes with a small aspect jitter
    aspect: float = 0.08  # +- relative difference between the two axes' scales
    shear: float = 0.2  # +- horizontal shear factor
    shift_pixels: float = 2.5  # uniform in +- along each axis
    elastic_alpha: float = 2.0  # pixels of displacement, roughly, where the field is strongest
    elastic_sigma: float = 4.0  # pixels: how smooth the displacement field is
    thicker: float = 0.15  # probability of a dilation
    thinner: float = 0.1  # probability of an erosion (only of strokes thick enough to survive it)
    low_resolution: float = 0.1  # probability of a small blurred source: reduced to 8-16 pixels a side, blown up

    def as_dict(self) -> dict:
        return asdict(self)


@cache
def _gaussian_matrix(n: int, sigma: float) -> Array:
    """G (float32) such that G @ a blurs the rows of a with a Gaussian of width sigma (edges
    renormalised). Read-only: made once for each size and kept."""
    d = np.arange(n)[:, None] - np.arange(n)[None, :]
    G = np.exp(-0.5 * (d / sigma) ** 2)
    G = (G / G.sum(axis=1, keepdims=True)).astype(np.float32)
    G.setflags(write=False)
    return G


def _bilinear(images: Array, rows: Array, cols: Array) -> Array:
    """Sample every image at its own (rows, cols) coordinates, zero outside. All (B, H, W)."""
    B, H, W = images.shape
    padded = np.zeros((B, H + 2, W + 2), dtype=images.dtype)  # a frame of zeros: reads outside get 0
    padded[:, 1:-1, 1:-1] = images
    r = np.clip(rows + 1, 0, H + 0.999)
    c = np.clip(cols + 1, 0, W + 0.999)
    index = np.int32 if padded.size < 2**31 else np.intp  # take() reads 32-bit indices faster
    r0, c0 = r.astype(index), c.astype(index)  # floor: the coordinates are >= 0
    fr, fc = (r - r0).astype(images.dtype), (c - c0).astype(images.dtype)
    # The four neighbours of every output pixel of every image, a 1-D take each.
    base = (np.arange(B, dtype=index)[:, None, None] * (H + 2) + r0) * (W + 2) + c0
    flat = padded.ravel()
    c00, c01, c10, c11 = (np.take(flat, base + offset) for offset in (0, 1, W + 2, W + 3))
    top = c00 + (c01 - c00) * fc
    bottom = c10 + (c11 - c10) * fc
    return top + (bottom - top) * fr


def _plus_filter(images: Array, reduce: np.ufunc) -> Array:
    """Grey-level dilation (np.maximum) or erosion (np.minimum) with a 3x3 plus-shaped window."""
    fill = 0.0 if reduce is np.maximum else 1.0
    p = np.pad(images, ((0, 0), (1, 1), (1, 1)), constant_values=fill)
    out = reduce(p[:, 1:-1, 1:-1], p[:, :-2, 1:-1])
    for view in (p[:, 2:, 1:-1], p[:, 1:-1, :-2], p[:, 1:-1, 2:]):
        out = reduce(out, view)
    return out


def _area_matrix(n_out: int, n_in: int) -> Array:
    """(n_out, n_in): each output cell the mean of the input cells it covers, by overlap."""
    lo = np.arange(n_out)[:, None] * n_in / n_out
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(lo + n_in / n_out, j + 1) - np.maximum(lo, j), 0, None)
    return overlap * n_out / n_in


def _linear_matrix(n_out: int, n_in: int) -> Array:
    """(n_out, n_in): linear interpolation, pixel centres aligned, edges repeated."""
    x = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(x).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    M = np.zeros((n_out, n_in))
    np.add.at(M, (np.arange(n_out), lo), 1 - (x - lo))
    np.add.at(M, (np.arange(n_out), hi), x - lo)
    return M


@cache
def _low_resolution_matrix(n: int, side: int, dtype: np.dtype) -> Array:
    """(n, n): reduce to `side` pixels by area averaging, blow up by linear interpolation. Read-only:
    made once for each size and kept."""
    M = (_linear_matrix(n, side) @ _area_matrix(side, n)).astype(dtype)
    M.setflags(write=False)
    return M


def _low_resolution(images: Array, sides: Array) -> Array:
    """Each image reduced to sides[i] pixels a side by area averaging, blown up again by linear
    interpolation and stretched so its darkest ink is 1 again (as normalisation would)."""
    out = images.copy()
    n = images.shape[-1]
    for side in np.unique(sides):  # a handful of sizes, each a batch of matrix products
        pick = sides == side
        M = _low_resolution_matrix(n, int(side), images.dtype)
        soft = M @ images[pick] @ M.T
        out[pick] = soft / np.maximum(soft.max(axis=(1, 2), keepdims=True), 1e-6)
    return out


def augment(images: Array, rng: np.random.Generator, aug: Augmentation = Augmentation()) -> Array:
    """A randomly redrawn copy of a batch of (B, 28, 28) images in [0, 1]."""
    B, H, W = images.shape
    dtype = images.dtype
    # Output pixel (y, x), measured from the centre, reads input pixel A^-1 (y, x) - shift.
    theta = np.deg2rad(rng.uniform(-aug.rotation_degrees, aug.rotation_degrees, B))
    scale = rng.uniform(*aug.scale, B)
    aspect = 1 + rng.uniform(-aug.aspect, aug.aspect, B)
    sy, sx = scale * aspect, scale / aspect
    shear = rng.uniform(-aug.shear, aug.shear, B)
    cos, sin = np.cos(theta), np.sin(theta)
    # The inverse map: undo the rotation, then the shear, then the scaling.
    a = np.empty((B, 2, 2), dtype=np.float32)
    a[:, 0, 0], a[:, 0, 1] = cos / sy, sin / sy
    a[:, 1, 0], a[:, 1, 1] = (-sin - shear * cos) / sx, (cos - shear * sin) / sx
    shift = rng.uniform(-aug.shift_pixels, aug.shift_pixels, (B, 2))
    cy, cx = (H - 1) / 2, (W - 1) / 2
    y, x = np.mgrid[:H, :W].astype(np.float32)
    yy, xx = y[None] - cy - shift[:, 0, None, None], x[None] - cx - shift[:, 1, None, None]
    rows = a[:, 0, 0, None, None] * yy + a[:, 0, 1, None, None] * xx + cy
    cols = a[:, 1, 0, None, None] * yy + a[:, 1, 1, None, None] * xx + cx
    if aug.elastic_alpha > 0:
        G = _gaussian_matrix(H, aug.elastic_sigma)
        noise = rng.uniform(-1, 1, (2, B, H, W)).astype(np.float32)
        field = G @ noise @ G.T  # blurred along both axes: smooth displacements
        field *= aug.elastic_alpha / max(np.abs(field).max(), 1e-12) * 1.5
        rows, cols = rows + field[0], cols + field[1]
    out = _bilinear(images, rows, cols)
    # Stroke thickness: a few images get dilated, a few eroded (those with ink to spare).
    roll = rng.random(size=B)
    thick = np.asarray(roll < aug.thicker)
    if thick.any():
        out[thick] = _plus_filter(out[thick], np.maximum)
    thin = np.asarray(roll >= 1 - aug.thinner)
    thin[thin] = (out[thin] > 0.5).sum(axis=(1, 2)) > 120
    if thin.any():
        out[thin] = _plus_filter(out[thin], np.minimum)
    small = np.asarray(rng.random(size=B) < aug.low_resolution)
    if small.any():  # a digit 20 pixels tall becomes 6 to 11: an 8x8 or 16x16 crop, blown up
        out[small] = _low_resolution(np.clip(out[small], 0, 1), rng.integers(8, 17, size=int(small.sum())))
    return np.clip(out, 0, 1).astype(dtype, copy=False)
