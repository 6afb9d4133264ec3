"""The convolutional network of Son Nguyen's article, from scratch in NumPy.

"A gentle explanation of Backpropagation in Convolutional Neural Network" (2020):
https://medium.com/@ngocson2vn/a-gentle-explanation-of-backpropagation-in-convolutional-neural-network-cnn-1a70abff508b
Its equation numbers, (1) to (66), are the ones in this package's comments.
"""

from __future__ import annotations

import os

from .architecture import ARTICLE, NUM_PARAMS, PARAM_SHAPES, Architecture
from .cnn import CNN, InvalidInput, calibrated
from .fast.memory import reuse_freed_memory
from .network import Forward, backprop, forward
from .weights import WeightsError, load_params, read_metadata


def load(path: str | os.PathLike[str], *, verify: bool = True) -> CNN:
    """The network saved at path by CNN.save (the .npz, or its stem), rebuilt with the architecture
    its metadata records (the article's when it records none, as files from before the family did).

    With verify, its SHA-256 must match the metadata beside it. Raises WeightsError
    when the file is missing, damaged or not a network of the shapes its architecture gives.
    """
    params = load_params(path, verify=verify)
    try:
        record = read_metadata(path).get("architecture")
    except WeightsError:
        if verify:
            raise
        record = None  # without verification the metadata may be missing: the article's network
    try:
        return CNN(params, Architecture.of_record(record))
    except (InvalidInput, ValueError) as e:
        raise WeightsError(f"{path}: {e}") from None


__all__ = [
    "ARTICLE",
    "Architecture",
    "CNN",
    "Forward",
    "InvalidInput",
    "NUM_PARAMS",
    "PARAM_SHAPES",
    "WeightsError",
    "backprop",
    "calibrated",
    "forward",
    "load",
    "read_metadata",
    "reuse_freed_memory",
]
