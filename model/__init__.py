"""The convolutional network of ../shared/seed/backprop-in-cnn.md, from scratch in NumPy."""

from __future__ import annotations

import os

from .architecture import NUM_PARAMS, PARAM_SHAPES
from .cnn import CNN
from .fast.memory import reuse_freed_memory
from .network import Forward, InvalidInput, backprop, forward
from .weights import WeightsError, load_params, read_metadata


def load(path: str | os.PathLike[str], *, verify: bool = True) -> CNN:
    """The network saved at path by CNN.save (the .npz, or its stem).

    With verify, its SHA-256 must match the metadata beside it. Raises WeightsError
    when the file is missing, damaged or not a network of the article's shapes.
    """
    try:
        return CNN(load_params(path, verify=verify))
    except InvalidInput as e:
        raise WeightsError(f"{path}: {e}") from None


__all__ = [
    "CNN",
    "Forward",
    "InvalidInput",
    "NUM_PARAMS",
    "PARAM_SHAPES",
    "WeightsError",
    "backprop",
    "forward",
    "load",
    "read_metadata",
    "reuse_freed_memory",
]
