"""POST /train: a bounded number of training steps of a stateless run (model/training/runs.py).

The run's whole state travels with the request (`resume`, base64 of Run.encode) and comes
back with the answer, so any replica answers any request, byte for byte the same. A request
takes at most MAX_TRAIN_IMAGES images' worth of steps (about a fifth of a second of one core
for either recipe) and is scored on the shipped 1,000 held-out images.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass

from model.codec import PARAM_LIMIT, base64_length
from model.data import small_mnist
from model.training.runs import MAX_STATE_BYTES, InvalidRun, Run

MAX_TRAIN_IMAGES = 1024  # images per request: 1024 steps of the article's recipe, 16 of ours
RESUME_MAX_LENGTH = base64_length(MAX_STATE_BYTES)  # base64 of the largest state


def decode_resume(text: str) -> Run:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRun("resume is not valid base64: send back the resume of the last answer as it came") from None
    return Run.decode(data)


@dataclass(frozen=True)
class Trained:
    """A run after a request's steps, and how it scores (TrainResponse.content answers it)."""

    run: Run
    losses: list[float]  # the mean loss of each step taken now
    heldout_accuracy: float
    heldout_loss: float
    steps_per_epoch: int


def train(recipe: str | None, seed: int, resume: str | None, steps: int) -> Trained:
    run = Run.start(recipe, seed) if recipe is not None else decode_resume(resume or "")
    batch = run.recipe.batch_size
    if steps * batch > MAX_TRAIN_IMAGES:
        raise InvalidRun(
            f"at most {MAX_TRAIN_IMAGES // batch} steps of the {run.recipe.name} recipe per request "
            f"({MAX_TRAIN_IMAGES} images); send more requests"
        )
    data = small_mnist()
    losses = run.train(data.train_images, data.train_labels, steps)
    if not run.is_sane():
        raise InvalidRun(f"the run diverged (a parameter left +-{PARAM_LIMIT:g} or became NaN); start it again")
    accuracy, loss = run.evaluate(data.test_images, data.test_labels)
    return Trained(run, losses, accuracy, loss, math.ceil(len(data.train_images) / batch))
