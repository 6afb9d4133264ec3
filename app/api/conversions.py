"""JSON arrays <-> NumPy arrays: where the numbers of /predict's requests and answers change form.

Incoming: rows of numbers, or {shape, float16}, checked for size and range with one sentence naming
the first bad value. Outgoing: nested lists, or {shape, float16 | float32} for compact answers.
"""

from __future__ import annotations

import base64
import binascii
from itertools import chain
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from app.pictures.preprocessing import MAX_DRAWING_SIDE
from app.transport.errors import NotFinite
from model.floats import TINY

MAP_DECIMALS = 5  # feature maps are for looking at: 5 decimals keep the answers small
MapsEncoding = Literal["json", "float16", "float32"]
HALF_MAX = 65504.0  # the largest finite half float


class EncodedArray(BaseModel):
    """An array in an answer, compact: half floats, or single floats where a value lies beyond ±65504
    (half floats would turn it into infinity)."""

    shape: list[int]
    float16: str | None = Field(
        None, description="base64 of the values as little-endian IEEE 754 half floats, row-major"
    )
    float32: str | None = Field(
        None,
        description="instead of float16 where some |value| > 65504: base64 of "
        "little-endian IEEE 754 single floats, row-major",
    )


def grid_to_array(
    rows: list[list[float]], *, exact_28: bool, what: str = "image", side: int = MAX_DRAWING_SIDE
) -> np.ndarray:
    """Rows of numbers -> a (H, W) float array, or ValueError saying what is wrong with it.

    Every request passes through here, so the common case costs three C-speed passes (lengths,
    copy, min and max) and the loops that name the offending row or pixel run only on errors.
    """
    if not rows or not rows[0]:
        raise ValueError(f"{what} is empty; send rows of numbers in [0, 1]")
    height, width = len(rows), len(rows[0])
    if len(set(map(len, rows))) > 1:
        r, row = next((r, row) for r, row in enumerate(rows) if len(row) != width)
        raise ValueError(f"{what} row {r} has {len(row)} numbers but row 0 has {width}; rows must be equally long")
    check_size(height, width, exact_28=exact_28, what=what, side=side)
    # The rows laid end to end into an array of known size: np.array would first walk the nested
    # lists to discover their shape, a quarter of the conversion's time (profiled, issue 34).
    grid = np.fromiter(chain.from_iterable(rows), np.float64, height * width).reshape(height, width)
    return check_pixels(grid, what)


def check_size(height: int, width: int, *, exact_28: bool, what: str, side: int = MAX_DRAWING_SIDE) -> None:
    if exact_28 and (height, width) != (28, 28):
        raise ValueError(
            f"{what} must be 28 rows of 28 numbers, got {height} rows of {width} "
            '(send "normalize": true to have a drawing of another size normalised)'
        )
    if max(height, width) > side:
        raise ValueError(f"{what} is {height}x{width}; at most {side} rows and columns")


def check_pixels(grid: np.ndarray, what: str) -> np.ndarray:
    """grid itself if every value is a finite number in [0, 1], else ValueError naming the first that is not."""
    if grid.min() >= 0 and grid.max() <= 1:  # false for NaN too: min and max pass it on
        # A subnormal pixel would cost 10x in the network (model/floats.py). In [0, 1], one comparison
        # finds them with the zeros: two NumPy calls, where flush's general case takes three or four,
        # and each costs microseconds on a request's cold cache (the figures: BENCHMARKS.md).
        return np.where(grid < TINY, 0.0, grid)
    bad = ~np.isfinite(grid)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"{what} holds {grid[r, c]} at row {r}, column {c}; values must be finite numbers")
    r, c = np.argwhere((grid < 0) | (grid > 1))[0]
    hint = " (divide 0..255 pixels by 255)" if grid.max() > 1 else ""
    raise ValueError(
        f"{what} holds {grid[r, c]:g} at row {r}, column {c}; values must lie in [0, 1], "
        f"0 = background and 1 = ink{hint}"
    )


def float16_to_array(
    shape: list[int], text: str, *, exact_28: bool, what: str = "image", side: int = MAX_DRAWING_SIDE
) -> np.ndarray:
    """A {shape, float16} image -> a (H, W) float array, or ValueError saying what is wrong with it."""
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"{what}.shape must be [rows, columns], two whole numbers of at least 1; got {shape}")
    height, width = shape
    check_size(height, width, exact_28=exact_28, what=what, side=side)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what}.float16 is not valid base64") from None
    if len(raw) != 2 * height * width:
        raise ValueError(
            f"{what}.float16 holds {len(raw)} bytes; a {height}x{width} image of half floats needs {2 * height * width}"
        )
    return check_pixels(np.frombuffer(raw, "<f2").astype(np.float64).reshape(height, width), what)


def encode(a: np.ndarray, encoding: MapsEncoding, decimals: int | None = MAP_DECIMALS) -> Any:
    """An array as the client asked for it: nested lists (rounded to decimals, if given), or a compact
    EncodedArray. Never NaN or infinity: an answer holding one is refused (NotFinite)."""
    largest = float(np.abs(a).max(initial=0.0))
    if not largest <= np.finfo(np.float32).max:  # NaN and infinity too
        raise NotFinite("the network's numbers overflow with these parameters; send smaller parameters")
    if encoding == "float32":  # the network's own numbers, exactly (the tour picks cells by them)
        return {"shape": list(a.shape), "float32": base64.b64encode(a.astype("<f4").tobytes()).decode()}
    if encoding == "float16":
        if largest <= HALF_MAX:
            return {"shape": list(a.shape), "float16": base64.b64encode(a.astype("<f2").tobytes()).decode()}
        return {"shape": list(a.shape), "float32": base64.b64encode(a.astype("<f4").tobytes()).decode()}
    values = a.astype(np.float64)
    return (values if decimals is None else np.round(values, decimals)).tolist()
