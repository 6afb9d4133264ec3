"""Training runs that fit in a request: a recipe, a seed, and where the run is.

A run is wholly described by its recipe, its seed, the number of steps taken and
the parameters and optimiser state after them; the data order follows from the
seed (each epoch's shuffle is np.random.default_rng([seed, epoch])), so `steps`
more steps from the same state give the same numbers on any machine with the
same NumPy. `Run.encode` packs the state into bytes the page keeps and sends
back (the service keeps nothing; the layout and bound are model/codec.py's); `Run.decode`
checks them.

Two recipes, on the article's small run (the first 10,000 MNIST training images,
model/data):

- "article": the article's companion code, exactly. One image per step (plain
  SGD, eq. 66), learning rate 0.005, the images shuffled every epoch, every
  weight and bias drawn uniformly from (-0.1, 0.1), inputs pixel/255 - 0.5.
- "ours": the recipe of the committed weights (loop.py) scaled to the
  small set: batches of 64, momentum 0.9, learning rate 0.05 along a half
  cosine to 0 over 10 epochs, He initialisation, inputs pixel/255, every batch
  redrawn at random (augment.py).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .. import fast
from ..architecture import PARAM_SHAPES
from ..codec import PARAM_LIMIT, PARAMS_BYTES, from_numbers, to_bytes, within_limit
from ..floats import flush_to_zero
from ..layers import cross_entropy
from ..network import Params, forward, init_params
from .augment import augment
from .optimizers import gradients, momentum_step, sgd_step
from .schedule import cosine_lr, epoch_order

RecipeName = Literal["article", "ours"]  # what a run may start from (POST /train, python -m model.train)
MAX_STEP = 10**12  # a run ends here (10^8 epochs of one image a step), far inside the token's uint64


@dataclass(frozen=True)
class Recipe:
    name: RecipeName | Literal["class"]
    batch_size: int
    lr: float
    momentum: float  # 0: plain SGD, no optimiser state
    epochs: int  # the length of the run the schedule is made for
    cosine: bool  # the learning rate follows a half cosine to 0 over `epochs`
    init: Literal["uniform", "he", "served"]  # served: a copy of the served network (Run.tuning)
    shift: float  # inputs are pixel/255 - shift
    augment: bool

    def lr_at(self, step: int, steps_per_epoch: int) -> float:
        if not self.cosine:
            return self.lr
        return cosine_lr(self.lr, step, self.epochs * steps_per_epoch)


RECIPES: dict[str, Recipe] = {
    "article": Recipe("article", 1, 0.005, 0.0, 10, False, "uniform", 0.5, False),
    "ours": Recipe("ours", 64, 0.05, 0.9, 10, True, "he", 0.0, True),
}
NAMES = tuple(RECIPES)
# Fine-tuning the served network on a class's own drawings mixed with the small set (app/drawings/):
# it starts from trained weights, so a fifth of "ours"'s learning rate, held constant.
CLASS = Recipe("class", 64, 0.01, 0.9, 1, False, "served", 0.0, True)
ENCODED = (*NAMES, CLASS.name)  # a run's state names its recipe by its place here

# What the article's companion code logged (issue 18): accuracy on the first 1,000 test
# images after each epoch of training on the first 10,000, and on all 10,000 after each
# epoch on all 60,000 (10 epochs; the runs' logs, read off).
ARTICLE_SMALL_RUN = {1: 0.926, 10: 0.981}
ARTICLE_SMALL_RUN_LOSS = {1: 0.220, 10: 0.074}
ARTICLE_FULL_RUN = {1: 0.9822, 5: 0.9897, 10: 0.9891}


class InvalidRun(ValueError):
    """A run's state that cannot be resumed; the message says why (422)."""


def initial_params(recipe: Recipe, seed: int) -> Params:
    rng = np.random.default_rng(seed)
    if recipe.init == "he":
        return init_params(rng)
    return {k: rng.uniform(-0.1, 0.1, shape).astype(np.float32) for k, shape in PARAM_SHAPES.items()}


MAGIC = b"CNNRUN1\x00"
HEADER = struct.Struct("<8sBIQ")  # magic, recipe, seed, step
MAX_STATE_BYTES = HEADER.size + 2 * PARAMS_BYTES  # a run with momentum: parameters and velocity


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

    @classmethod
    def tuning(cls, served: Params, seed: int) -> Run:
        """A CLASS run from a copy of the served parameters (inputs pixel/255, as served)."""
        params = {k: np.array(v, dtype=np.float32) for k, v in served.items()}
        return cls(CLASS, seed, 0, params, {k: np.zeros_like(v) for k, v in params.items()})

    def train(self, images: np.ndarray, labels: np.ndarray, steps: int) -> list[float]:
        """Take `steps` steps on (N, 28, 28) uint8 images, in place; the loss of each step."""
        if self.step + steps > MAX_STEP:
            raise InvalidRun(f"a run ends at step {MAX_STEP:,}; this one is at {self.step:,}: start a new one")
        r = self.recipe
        n = len(images)
        per_epoch = math.ceil(n / r.batch_size)
        losses = []
        order, epoch = None, -1
        with flush_to_zero():  # the same numbers, and cost, as the service computes (model/floats.py)
            for step in range(self.step, self.step + steps):
                if step // per_epoch != epoch:
                    epoch = step // per_epoch
                    order = epoch_order(self.seed, epoch, n)
                assert order is not None
                start = (step % per_epoch) * r.batch_size
                idx = order[start : start + r.batch_size]
                x = images[idx].astype(np.float32) / 255
                if r.augment:
                    x = augment(x, np.random.default_rng([self.seed, step, 1]))
                taught = gradients(self.params, x - np.float32(r.shift), labels[idx])
                lr = r.lr_at(step, per_epoch)
                if self.velocity is None:  # eq. (66), with momentum where the recipe has it
                    sgd_step(self.params, taught.grads, lr)
                else:
                    momentum_step(self.params, self.velocity, taught.grads, lr, r.momentum)
                losses.append(float(taught.loss))
        self.step += steps
        return losses

    def evaluate(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
        """(accuracy, mean loss) on held-out uint8 images, inputs scaled as in training."""
        x = images.astype(np.float32) / 255 - np.float32(self.recipe.shift)
        with flush_to_zero():
            S = fast.Inference(self.params).scores(x) if fast.enabled() else forward(self.params, x).S
        loss = float(cross_entropy(S.astype(np.float64), labels).mean())  # eq. (5)-(6), stable
        return float((S.argmax(axis=1) == labels).mean()), loss

    def serving_params(self) -> Params:
        """The parameters that answer a drawing in [0, 1] as this run's network answers its inputs:
        the input shift folded into b1 (a valid convolution of x - s is that of x, less s times
        the kernel's sum)."""
        p = {k: v.copy() for k, v in self.params.items()}
        p["b1"] = (p["b1"] - np.float32(self.recipe.shift) * p["k1"].sum(axis=(1, 2))).astype(np.float32)
        return p

    def state(self) -> list[Params]:
        """What the run carries from step to step: the parameters, and the velocity if it has one."""
        return [self.params] + ([self.velocity] if self.velocity is not None else [])

    def is_sane(self) -> bool:
        return within_limit(np.frombuffer(to_bytes(*self.state()), "<f4"))

    def encode(self) -> bytes:
        header = HEADER.pack(MAGIC, ENCODED.index(self.recipe.name), self.seed, self.step)
        return header + to_bytes(*self.state())

    @classmethod
    def decode(cls, data: bytes) -> Run:
        if len(data) < HEADER.size or not data.startswith(MAGIC):
            raise InvalidRun("resume is not a training run's state (start one with a recipe)")
        _, index, seed, step = HEADER.unpack_from(data)
        if index >= len(ENCODED):
            raise InvalidRun(f"resume names an unknown recipe ({index})")
        if step > MAX_STEP:
            raise InvalidRun(f"resume's step {step:,} is beyond the last step of any run ({MAX_STEP:,})")
        recipe = RECIPES.get(ENCODED[index], CLASS)
        size = HEADER.size + PARAMS_BYTES * (2 if recipe.momentum else 1)
        if len(data) != size:
            raise InvalidRun(f"resume of the {recipe.name} recipe must be {size} bytes, got {len(data)}")
        flat = np.frombuffer(data, "<f4", offset=HEADER.size)  # subnormals: flushed by from_numbers (model/floats.py)
        if not np.isfinite(flat).all():
            raise InvalidRun("resume holds NaN or infinity")
        if np.abs(flat).max() > PARAM_LIMIT:
            raise InvalidRun(f"resume's numbers must lie within +-{PARAM_LIMIT:g}")
        arrays = from_numbers(flat)
        return cls(recipe, seed, step, arrays[0], arrays[1] if recipe.momentum else None)
