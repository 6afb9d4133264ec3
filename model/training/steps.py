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
from .ahead import drawn_ahead
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
    place; yield each as it is taken. teacher (with recipe.distill) scores every batch the student sees.

    With recipe.threads > 1 the batches are drawn ahead by a process of their own (ahead.py) and
    each step's batch is cut into threads - 1 parts (model/fast/gradients.py)."""
    per_epoch = math.ceil(len(images) / recipe.batch_size)
    if recipe.seeding == "epoch" and state.step % per_epoch:
        raise ValueError(f"a run seeded by epoch starts at an epoch's first step, not at step {state.step}")

    def draw() -> Iterator[Drawn]:
        return batches(recipe, seed, state.step, images, labels, count, teacher)

    for step, (x, y, teacher_S) in enumerate(drawn_ahead(draw) if recipe.threads > 1 else draw(), start=state.step):
        loss = (
            objective(y, recipe.label_smoothing, teacher_S, recipe.temperature, recipe.distill)
            if recipe.label_smoothing or teacher_S is not None
            else None  # the article's cross-entropy, on the fast path's own code
        )
        taught = gradients(state.params, x, y, loss, max(1, recipe.threads - 1))
        lr = recipe.lr_at(step, per_epoch)
        update(recipe.optimizer, state.params, state.memory, taught.grads, lr, recipe.momentum, step)
        if state.average is not None:
            average_step(state.average, state.params, recipe.ema)
        state.step = step + 1
        yield Step(taught.loss, taught.correct, len(y), lr)


class Drawn(NamedTuple):
    """A step's batch: its images as the network reads them, their labels, and a teacher's scores of them."""

    x: Array
    labels: Array
    teacher_S: Array | None


def batches(
    recipe: Recipe, seed: int, start: int, images: Array, labels: Array, count: int, teacher: CNN | None
) -> Iterator[Drawn]:
    """The batches of steps start..start+count-1: a function of the recipe, the seed and the step alone,
    never of the weights, so they may be drawn ahead of the steps (ahead.py)."""
    n, size = len(images), recipe.batch_size
    per_epoch = math.ceil(n / size)
    by_epoch = recipe.seeding == "epoch"
    epoch, order, redraw = -1, np.empty(0, np.int64), None
    for step in range(start, start + count):
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
        yield Drawn(x - np.float32(recipe.shift) if recipe.shift else x, labels[idx], teacher_S)
