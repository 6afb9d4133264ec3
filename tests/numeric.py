"""Central finite differences: the trusted oracle for every gradient."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

EPS = 1e-6


def numeric_grad(loss: Callable[[], float], x: np.ndarray, eps: float = EPS) -> np.ndarray:
    """dloss/dx by central differences, nudging x in place (and restoring it)."""
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        up = loss()
        x[idx] = old - eps
        down = loss()
        x[idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """|a - b| / max(|a|, |b|) over the whole array (0 when both are 0)."""
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return float(np.linalg.norm(a - b) / scale) if scale else 0.0
