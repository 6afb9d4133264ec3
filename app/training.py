"""POST /train: a bounded number of training steps of a stateless run (model/training/recipes.py).

The run's whole state travels with the request (`resume`, base64 of Run.encode) and comes
back with the answer, so any replica answers any request, byte for byte the same. A request
takes at most MAX_TRAIN_IMAGES images' worth of steps (about a fifth of a second of one core
for either recipe) and is scored on the shipped 1,000 held-out images.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from model.codec import PARAM_LIMIT, base64_length, encode_params
from model.data import small_mnist
from model.training.recipes import MAX_STATE_BYTES, InvalidRun, Run

MAX_TRAIN_IMAGES = 1024  # images per request: 1024 steps of the article's recipe, 16 of ours
RESUME_MAX_LENGTH = base64_length(MAX_STATE_BYTES)  # base64 of the largest state


def decode_resume(text: str) -> Run:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRun("resume is not valid base64: send back the resume of the last answer as it came") from None
    return Run.decode(data)


def train(recipe: str | None, seed: int, resume: str | None, steps: int) -> dict[str, Any]:
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
    per_epoch = math.ceil(len(data.train_images) / batch)
    return {
        "recipe": run.recipe.name,
        "seed": run.seed,
        "step": run.step,
        "epoch": run.step / per_epoch,
        "steps_per_epoch": per_epoch,
        "lr": run.recipe.lr_at(run.step - 1, per_epoch),
        "losses": losses,
        "heldout_accuracy": accuracy,
        "heldout_loss": loss,
        "resume": base64.b64encode(run.encode()).decode(),
        "params": encode_params(run.serving_params()),
    }
