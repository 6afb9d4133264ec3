"""When and in what order: the learning rate at each step, each epoch's shuffle, the validation split.

Each is a function of its arguments alone (no global random state), so a run that is stopped
and resumed, on this machine or another with the same NumPy, takes the same steps.
"""

from __future__ import annotations

import math

import numpy as np

SPLIT_SEED = 20200227  # chooses the validation images, once and for all (independent of any run's seed)


def cosine_lr(lr: float, step: int, total_steps: int) -> float:
    """eta at `step`: a half cosine from lr down to 0 over total_steps, then 0."""
    return lr * 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffle of an epoch: a function of (seed, epoch) alone, so a resumed run repeats it exactly."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def split(n: int, validation: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation indices of the first n images: a permutation by SPLIT_SEED, cut once."""
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    return np.sort(order[validation:]), np.sort(order[:validation])
