"""Speed, kept in one place: the same network as model/network.py, arranged to run fast.

- banded.py: each convolution as one matrix product with a banded kernel matrix, its rows and
  columns ordered so that max-pooling runs on contiguous halves, winners from bit operations;
- inference.py: the scores S of a batch, for answering;
- gradients.py: the loss and the parameters' gradient of a batch, for training;
- memory.py: glibc's malloc tuned to reuse a training step's memory;
- threads.py: one BLAS thread while training steps run (a count for the whole process).

It may import the reference; the reference never imports it. tests/test_fast.py checks it
against the reference: probabilities and every gradient to 1e-10 in float64, the same winners
on ties. Set CNN_FAST=0 to switch it off: training and answers then run on the reference.
"""

from __future__ import annotations

import os

from .gradients import batch_gradients
from .inference import Inference


def enabled() -> bool:
    """Whether plain answers and training steps take the fast path (CNN_FAST, on unless "0")."""
    return os.environ.get("CNN_FAST", "1") != "0"


__all__ = ["Inference", "enabled", "batch_gradients"]
