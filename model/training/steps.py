"""The training step, written once: what `python -m model.train` takes epoch after epoch and
POST /train a request's few at a time (runs.py).

A step draws the batch of its place in its epoch's shuffle, redraws it at random if the recipe
augments, computes the loss and the gradient of every parameter (through model/fast/ or the
reference: model/cnn.py chooses), the loss optionally smoothed or distilled from a teacher
(objectives.py), and takes eq. (66), k <- k - eta dL/dk, with the recipe's optimiser and learning
rate; then the weights' average follows. Everything it draws is a function of the recipe, the
seed and the step (schedule.py), so a run stopped and resumed takes the same steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..cnn import CNN, gradients
from ..layers import Array
from ..network import Params
from .augment import augment
from .objectives import objective
from .optimizers import average_step, update
from .recipes import Recipe
from .schedule import epoch_order


@dataclass
class State:
    """Where a run is: its parameters, the optimiser's memory, the weights' average, the steps taken."""

    params: Params
    memory: Params  # the velocity (momentum, Nesterov), Adam's moments; empty for plain SGD
    average: Params | None = None  # with recipe.ema
    step: int = 0


class Step(NamedTuple):
    """What one step gives: its mean loss, how many of its images were right, how many, its eta."""

    loss: float
    correct: int
    images: int
    lr: float


def steps(
    recipe: Recipe, seed: int, state: State, images: Array, labels: Array, count: int, teacher: CNN | None = None
) -> Iterator[Step]:
    """Take `count` steps of the recipe from state.step on (N, 28, 28) uint8 images, changing state in
    place; yield each as it is taken. teacher (with recipe.distill) scores every batch the student sees."""
    n, size = len(images), recipe.batch_size
    per_epoch = math.ceil(n / size)
    by_epoch = recipe.seeding == "epoch"
    if by_epoch and state.step % per_epoch:
        raise ValueError(f"a run seeded by epoch starts at an epoch's first step, not at step {state.step}")
    epoch, order, redraw = -1, np.empty(0, np.int64), None
    for step in range(state.step, state.step + count):
        if step // per_epoch != epoch:
            epoch = step // per_epoch
            order = epoch_order(seed, epoch + by_epoch, n)  # the command line counts epochs from 1
            redraw = np.random.default_rng([seed, epoch + 1, 1]) if by_epoch else None
        idx = order[step % per_epoch * size :][:size]
        x = images[idx].astype(np.float32) / 255
        # A network this small cannot fit every redrawing; a few clean epochs at the end, with the
        # learning rate low, settle it on the digits as MNIST draws them (a share of each batch may
        # still be redrawn there, so that what augmentation taught, photos and canvases, is kept).
        if recipe.augment:
            rng = redraw if redraw is not None else np.random.default_rng([seed, step, 1])
            if not (recipe.clean_epochs and epoch >= recipe.epochs - recipe.clean_epochs):
                x = augment(x, rng)
            elif recipe.clean_redrawn > 0:  # the batch is in shuffled order: its first images are a random share
                k = round(recipe.clean_redrawn * len(x))
                x[:k] = augment(x[:k], rng)
        teacher_S = teacher.scores(x) if teacher is not None else None  # the view the student sees
        loss = (
            objective(labels[idx], recipe.label_smoothing, teacher_S, recipe.temperature, recipe.distill)
            if recipe.label_smoothing or teacher_S is not None
            else None  # the article's cross-entropy, on the fast path's own code
        )
        taught = gradients(state.params, x - np.float32(recipe.shift) if recipe.shift else x, labels[idx], loss)
        lr = recipe.lr_at(step, per_epoch)
        update(recipe.optimizer, state.params, state.memory, taught.grads, lr, recipe.momentum, step)
        if state.average is not None:
            average_step(state.average, state.params, recipe.ema)
        state.step = step + 1
        yield Step(taught.loss, taught.correct, len(idx), lr)
