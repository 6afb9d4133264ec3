"""NumPy arrays -> JSON: where the numbers of the answers change form: nested lists, or
{shape, float16 | float32} for compact answers. (The requests' arrays are read in requests.py.)
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from app.transport.errors import NotFinite

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
