"""A visitor's own copy of the network's parameters, as it travels between the page and the service.

The service keeps no state: the 3,898 parameters live in the page and come with each request as
one base64 string of little-endian float32, in the order k1 b1 k2 b2 w b (PARAM_SHAPES), each
array row-major. They are validated like any input: length, finiteness, and a bound on size that
no sensible training step exceeds.

A training run's state (`resume` of POST /train, model/training/recipes.py) is a header followed
by the same layout, once for the parameters and once more for the optimiser's velocity, under the
same bound: one format, one PARAM_LIMIT, one base64_length.
"""

from __future__ import annotations

import base64
import binascii
import math

import numpy as np

from .architecture import NUM_PARAMS, PARAM_SHAPES
from .floats import flush
from .network import Params

PARAM_LIMIT = 1000.0  # |parameter| above this is refused: nothing a few SGD steps could reach
PARAMS_BYTES = 4 * NUM_PARAMS  # one set of parameters as float32


def base64_length(size: int) -> int:
    """The base64 characters of `size` bytes (padding included)."""
    return 4 * math.ceil(size / 3)


ENCODED_LENGTH = base64_length(PARAMS_BYTES)  # base64 characters of 3,898 float32


class InvalidParams(ValueError):
    """Client parameters that cannot be a network of the article's shapes (422)."""


def to_bytes(*sets: Params) -> bytes:
    """Each set of parameters in turn, in the layout above."""
    return b"".join(np.asarray(params[name], "<f4").tobytes() for params in sets for name in PARAM_SHAPES)


def within_limit(flat: np.ndarray) -> bool:
    """Finite and within +-PARAM_LIMIT, every number: what the service gives out and takes back."""
    return bool(np.isfinite(flat).all() and np.abs(flat).max() <= PARAM_LIMIT)


def from_numbers(flat: np.ndarray) -> list[Params]:
    """(k * NUM_PARAMS,) float32 numbers in the layout above -> k sets of parameters (copies)."""
    flat = flush(flat)  # subnormals would make every request with them several times slower (model/floats.py)
    sets: list[Params] = []
    start = 0
    for _ in range(len(flat) // NUM_PARAMS):
        params = {}
        for name, shape in PARAM_SHAPES.items():
            size = math.prod(shape)
            params[name] = flat[start : start + size].reshape(shape).astype(np.float32)
            start += size
        sets.append(params)
    return sets


def encode_params(params: Params) -> str:
    """The parameters as decode_params reads them; InvalidParams where it would refuse them (a step
    too large took them beyond PARAM_LIMIT): the service never hands out what it would not take back."""
    flat = np.frombuffer(to_bytes(params), "<f4")
    if not within_limit(flat):
        raise InvalidParams(
            f"this step would take the parameters beyond +-{PARAM_LIMIT:g} (to "
            f"{np.abs(flat).max():g}); take a smaller learning rate"
        )
    return base64.b64encode(flat.tobytes()).decode()


def decode_params(text: str) -> Params:
    if len(text) != ENCODED_LENGTH:
        raise InvalidParams(
            f"params must be {ENCODED_LENGTH} base64 characters ({NUM_PARAMS} float32), got {len(text)}"
        )
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParams("params is not valid base64") from None
    flat = np.frombuffer(raw, dtype="<f4")
    if len(flat) != NUM_PARAMS:
        raise InvalidParams(f"params must hold {NUM_PARAMS} float32 numbers, got {len(raw)} bytes")
    if not np.isfinite(flat).all():
        raise InvalidParams("params contain NaN or infinity")
    if np.abs(flat).max() > PARAM_LIMIT:
        raise InvalidParams(f"params must lie within +-{PARAM_LIMIT:g}; got {np.abs(flat).max():g}")
    return from_numbers(flat)[0]
