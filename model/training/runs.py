"""Training runs that fit in a request: a recipe, a seed, and where the run is.

A run is wholly described by its recipe (recipes.py), its seed, the number of steps taken and
the parameters and optimiser state after them; the data order and the redrawings follow from
the seed and the step (steps.py), so `steps` more steps from the same state give the same
numbers on any machine with the same NumPy. `Run.encode` packs the state into bytes the page
keeps and sends back (the service keeps nothing; the layout and bound are model/codec.py's);
`Run.decode` checks them. A token holds the parameters and at most one set of memory: a live
recipe takes plain SGD or momentum, and no weights' average.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from ..cnn import scores
from ..codec import PARAM_LIMIT, PARAMS_BYTES, from_numbers, to_bytes, within_limit
from ..floats import flush_to_zero
from ..layers import cross_entropy
from ..network import Params
from .recipes import CLASS, ENCODED, RECIPES, Recipe, initial_params
from .steps import State, steps

MAX_STEP = 10**12  # a run ends here (10^8 epochs of one image a step), far inside the token's uint64
MAGIC = b"CNNRUN1\x00"
HEADER = struct.Struct("<8sBIQ")  # magic, recipe, seed, step
MAX_STATE_BYTES = HEADER.size + 2 * PARAMS_BYTES  # a run with momentum: parameters and velocity


class InvalidRun(ValueError):
    """A run's state that cannot be resumed; the message says why (422)."""


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
        velocity = {k: np.zeros_like(v) for k, v in params.items()} if recipe.optimizer != "sgd" else None
        return cls(recipe, seed, 0, params, velocity)

    @classmethod
    def tuning(cls, served: Params, seed: int) -> Run:
        """A CLASS run from a copy of the served parameters (inputs pixel/255, as served)."""
        params = {k: np.array(v, dtype=np.float32) for k, v in served.items()}
        return cls(CLASS, seed, 0, params, {k: np.zeros_like(v) for k, v in params.items()})

    def train(self, images: np.ndarray, labels: np.ndarray, count: int) -> list[float]:
        """Take `count` steps on (N, 28, 28) uint8 images, in place; the loss of each step."""
        if self.step + count > MAX_STEP:
            raise InvalidRun(f"a run ends at step {MAX_STEP:,}; this one is at {self.step:,}: start a new one")
        state = State(self.params, self.velocity or {}, None, self.step)
        with flush_to_zero():  # the same numbers, and cost, as the service computes (model/floats.py)
            losses = [float(taken.loss) for taken in steps(self.recipe, self.seed, state, images, labels, count)]
        self.step = state.step
        return losses

    def evaluate(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
        """(accuracy, mean loss) on held-out uint8 images, inputs scaled as in training."""
        x = images.astype(np.float32) / 255 - np.float32(self.recipe.shift)
        with flush_to_zero():
            S = scores(self.params, x)
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
        recipe = RECIPES[ENCODED[index]]
        moving = recipe.optimizer != "sgd"
        size = HEADER.size + PARAMS_BYTES * (2 if moving else 1)
        if len(data) != size:
            raise InvalidRun(f"resume of the {recipe.name} recipe must be {size} bytes, got {len(data)}")
        flat = np.frombuffer(data, "<f4", offset=HEADER.size)  # subnormals: flushed by from_numbers (model/floats.py)
        if not np.isfinite(flat).all():
            raise InvalidRun("resume holds NaN or infinity")
        if np.abs(flat).max() > PARAM_LIMIT:
            raise InvalidRun(f"resume's numbers must lie within +-{PARAM_LIMIT:g}")
        arrays = from_numbers(flat)
        return cls(recipe, seed, step, arrays[0], arrays[1] if moving else None)
