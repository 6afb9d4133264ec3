"""Training runs that fit in a request: a recipe, a seed, and where the run is.

A run is wholly described by its recipe, its seed, the number of steps taken and
the parameters and optimiser state after them; the data order follows from the
seed (each epoch's shuffle is np.random.default_rng([seed, epoch])), so `steps`
more steps from the same state give the same numbers on any machine with the
same NumPy. `Run.encode` packs the state into bytes the page keeps and sends
back (the service keeps nothing); `Run.decode` checks them.

Two recipes, on the article's small run (the first 10,000 MNIST training images,
model/data):

- "article": the article's companion code, exactly. One image per step (plain
  SGD, eq. 66), learning rate 0.005, the images shuffled every epoch, every
  weight and bias drawn uniformly from (-0.1, 0.1), inputs pixel/255 - 0.5.
- "ours": the recipe of the committed weights (model/train.py) scaled to the
  small set: batches of 64, momentum 0.9, learning rate 0.05 along a half
  cosine to 0 over 10 epochs, He initialisation, inputs pixel/255, every batch
  redrawn at random (model/augment.py).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Literal

import numpy as np

from . import fast
from .architecture import NUM_PARAMS, PARAM_SHAPES
from .augment import augment
from .network import Params, batch_gradients, forward, init_params

RecipeName = Literal["article", "ours"]
PARAM_LIMIT = 1000.0  # a state beyond this is refused: no sensible run goes there


@dataclass(frozen=True)
class Recipe:
    name: RecipeName
    batch_size: int
    lr: float
    momentum: float  # 0: plain SGD, no optimiser state
    epochs: int  # the length of the run the schedule is made for
    cosine: bool  # the learning rate follows a half cosine to 0 over `epochs`
    init: Literal["uniform", "he"]
    shift: float  # inputs are pixel/255 - shift
    augment: bool

    def lr_at(self, step: int, steps_per_epoch: int) -> float:
        if not self.cosine:
            return self.lr
        total = self.epochs * steps_per_epoch
        return self.lr * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))


RECIPES: dict[str, Recipe] = {
    "article": Recipe("article", 1, 0.005, 0.0, 10, False, "uniform", 0.5, False),
    "ours": Recipe("ours", 64, 0.05, 0.9, 10, True, "he", 0.0, True),
}
NAMES = tuple(RECIPES)

# What the article's companion code logged (issue 18): accuracy on the first 1,000 test
# images after each epoch of training on the first 10,000, and on all 10,000 after each
# epoch on all 60,000 (10 epochs; the runs' logs, read off).
ARTICLE_SMALL_RUN = {1: 0.926, 10: 0.981}
ARTICLE_SMALL_RUN_LOSS = {1: 0.220, 10: 0.074}
ARTICLE_FULL_RUN = {1: 0.9822, 5: 0.9897, 10: 0.9891}


def log_softmax(S: np.ndarray) -> np.ndarray:
    shifted = S - S.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


class InvalidRun(ValueError):
    """A run's state that cannot be resumed; the message says why (422)."""


def initial_params(recipe: Recipe, seed: int) -> Params:
    rng = np.random.default_rng(seed)
    if recipe.init == "he":
        return init_params(rng)
    return {k: rng.uniform(-0.1, 0.1, shape).astype(np.float32) for k, shape in PARAM_SHAPES.items()}


MAGIC = b"CNNRUN1\x00"
HEADER = struct.Struct("<8sBIQ")  # magic, recipe, seed, step


@dataclass
class Run:
    recipe: Recipe
    seed: int
    step: int
    params: Params
    velocity: Params | None  # the momentum's memory, for recipes with momentum

    @classmethod
    def start(cls, name: str, seed: int) -> Run:
        recipe = RECIPES[name]
        params = initial_params(recipe, seed)
        velocity = {k: np.zeros_like(v) for k, v in params.items()} if recipe.momentum else None
        return cls(recipe, seed, 0, params, velocity)

    def order(self, epoch: int, n: int) -> np.ndarray:
        """The shuffle of an epoch: a function of (seed, epoch) alone."""
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def train(self, images: np.ndarray, labels: np.ndarray, steps: int) -> list[float]:
        """Take `steps` steps on (N, 28, 28) uint8 images, in place; the loss of each step."""
        r = self.recipe
        n = len(images)
        per_epoch = math.ceil(n / r.batch_size)
        gradients = fast.batch_gradients if fast.enabled() else batch_gradients
        losses = []
        order, epoch = None, -1
        for step in range(self.step, self.step + steps):
            if step // per_epoch != epoch:
                epoch = step // per_epoch
                order = self.order(epoch, n)
            assert order is not None
            start = (step % per_epoch) * r.batch_size
            idx = order[start : start + r.batch_size]
            x = images[idx].astype(np.float32) / 255
            if r.augment:
                x = augment(x, np.random.default_rng([self.seed, step, 1]))
            taught = gradients(self.params, x - np.float32(r.shift), labels[idx])
            lr = np.float32(r.lr_at(step, per_epoch))
            for name, grad in taught.grads.items():  # eq. (66), with momentum where the recipe has it
                if self.velocity is None:
                    self.params[name] -= lr * grad
                else:
                    v = self.velocity[name]
                    v *= np.float32(r.momentum)
                    v -= lr * grad
                    self.params[name] += v
            losses.append(float(taught.loss))
        self.step += steps
        return losses

    def evaluate(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
        """(accuracy, mean loss) on held-out uint8 images, inputs scaled as in training."""
        x = images.astype(np.float32) / 255 - np.float32(self.recipe.shift)
        S = fast.Inference(self.params).scores(x) if fast.enabled() else forward(self.params, x).S
        log_O = log_softmax(S.astype(np.float64))  # eq. (5)-(6), stable
        loss = -float(log_O[np.arange(len(labels)), labels].mean())
        return float((S.argmax(axis=1) == labels).mean()), loss

    def serving_params(self) -> Params:
        """The parameters that answer a drawing in [0, 1] as this run's network answers its inputs:
        the input shift folded into b1 (a valid convolution of x - s is that of x, less s times
        the kernel's sum)."""
        p = {k: v.copy() for k, v in self.params.items()}
        p["b1"] = (p["b1"] - np.float32(self.recipe.shift) * p["k1"].sum(axis=(1, 2))).astype(np.float32)
        return p

    def is_sane(self) -> bool:
        arrays = list(self.params.values()) + list((self.velocity or {}).values())
        return all(np.isfinite(a).all() and np.abs(a).max() <= PARAM_LIMIT for a in arrays)

    def encode(self) -> bytes:
        header = HEADER.pack(MAGIC, NAMES.index(self.recipe.name), self.seed, self.step)
        arrays = [self.params] + ([self.velocity] if self.velocity is not None else [])
        body = b"".join(np.asarray(a[k], "<f4").tobytes() for a in arrays for k in PARAM_SHAPES)
        return header + body

    @classmethod
    def decode(cls, data: bytes) -> Run:
        if len(data) < HEADER.size or not data.startswith(MAGIC):
            raise InvalidRun("resume is not a training run's state (start one with a recipe)")
        _, index, seed, step = HEADER.unpack_from(data)
        if index >= len(NAMES):
            raise InvalidRun(f"resume names an unknown recipe ({index})")
        recipe = RECIPES[NAMES[index]]
        count = NUM_PARAMS * (2 if recipe.momentum else 1)
        if len(data) != HEADER.size + 4 * count:
            raise InvalidRun(
                f"resume of the {recipe.name} recipe must be {HEADER.size + 4 * count} bytes, got {len(data)}"
            )
        flat = np.frombuffer(data, "<f4", offset=HEADER.size)
        if not np.isfinite(flat).all():
            raise InvalidRun("resume holds NaN or infinity")
        if np.abs(flat).max() > PARAM_LIMIT:
            raise InvalidRun(f"resume's numbers must lie within +-{PARAM_LIMIT:g}")
        arrays: list[Params] = []
        start = 0
        for _ in range(count // NUM_PARAMS):
            params = {}
            for name, shape in PARAM_SHAPES.items():
                size = int(np.prod(shape))
                params[name] = flat[start : start + size].reshape(shape).astype(np.float32)
                start += size
            arrays.append(params)
        return cls(recipe, seed, step, arrays[0], arrays[1] if recipe.momentum else None)
