"""Fine-tuning a copy of the served network on the class's drawings, a few steps per request.

Like POST /train (app/api/training.py), the run travels with the request: `resume` is the state of
a run (model/training/runs.py) of the CLASS recipe (model/training/recipes.py), which starts from
the served parameters. The data:
the shipped MNIST small set (10,000 images) and the class's drawings, repeated so that they
make about a third of what the run sees. Every fifth drawing (id divisible by HELD_OUT_EVERY)
is never trained on: the network is scored on those and on MNIST's 1,000 held-out images,
before (the served network) and after (the copy).

The route reads the drawings from the database; the training runs in a worker process, as a
handler (endpoints.py) whose Job carries the request and the drawings in one .npz body.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import numpy as np

from app.api.training import decode_resume
from app.transport.endpoints import Call
from app.transport.errors import ClientMistake
from app.transport.jobs import Job
from model import cnn
from model.codec import PARAM_LIMIT, encode_params
from model.data import small_mnist
from model.network import Params
from model.training.calibration import calibrate
from model.training.recipes import CLASS
from model.training.runs import InvalidRun, Run

from .models import TuneRequest

HELD_OUT_EVERY = 5  # a drawing whose id is a multiple of this is kept for scoring, never trained on
MIN_DRAWINGS = 5  # fewer cannot both train and score
MAX_DRAWINGS = 5_000  # the newest this many are used: 3.9 MB to a worker, a bounded cost per request
CLASS_SHARE = 1 / 3  # of the images a run sees, about this many are the class's own


class TooFewDrawings(ClientMistake):
    """Not enough drawings to train on and to score (422)."""


def pack(req_body: bytes, ids: np.ndarray, images: np.ndarray, labels: np.ndarray) -> bytes:
    """The worker's job: the request's JSON and the drawings, as one .npz."""
    buf = io.BytesIO()
    np.savez(buf, request=np.frombuffer(req_body, np.uint8), ids=ids, images=images, labels=labels)
    return buf.getvalue()


def tune_job(job: Job, call: Call) -> Any:
    """The tuning's body read (endpoints.py's Body), in a worker: the request and the drawings, one .npz."""
    with np.load(io.BytesIO(job.body), allow_pickle=False) as z:
        req = TuneRequest.model_validate_json(z["request"].tobytes())
        return tune(req, z["ids"], z["images"], z["labels"], call.classifier.net.params)


def held_out(ids: np.ndarray) -> np.ndarray:
    return ids % HELD_OUT_EVERY == 0


def mix(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's small set and the class's drawings, repeated to about CLASS_SHARE of the whole."""
    mnist = small_mnist()
    n = len(mnist.train_images)
    repeats = max(1, math.ceil(n * CLASS_SHARE / (1 - CLASS_SHARE) / len(images)))
    return (
        np.concatenate([mnist.train_images, np.tile(images, (repeats, 1, 1))]),
        np.concatenate([mnist.train_labels, np.tile(labels, repeats)]),
    )


def network_scores(params: Params, images: np.ndarray) -> np.ndarray:
    """(N, 10) the scores S of each uint8 image."""
    x = images.astype(np.float32) / 255
    return cnn.scores(params, x)


def answers(params: Params, images: np.ndarray) -> np.ndarray:
    """(N,) the digit the network reads in each uint8 image."""
    return network_scores(params, images).argmax(axis=1) if len(images) else np.zeros(0, dtype=np.int64)


def calibration(params: Params, class_images: np.ndarray, class_labels: np.ndarray) -> dict[str, float]:
    """The copy's temperature and "unsure" threshold, fitted as the shared network's were
    (model/training/calibration.py) on images it never trained on: MNIST's 1,000 held-out test
    images and the class's held-out drawings. (The same images score it: a small, stated overlap.)"""
    mnist = small_mnist()
    images = np.concatenate([mnist.test_images, class_images])
    labels = np.concatenate([mnist.test_labels, class_labels])
    fitted = calibrate(network_scores(params, images), labels)
    return {"temperature": fitted.temperature, "unsure_below": fitted.unsure_below}


def accuracy(read: np.ndarray, labels: np.ndarray) -> float | None:
    return float((read == labels).mean()) if len(labels) else None


def scores(params: Params, class_read: np.ndarray, class_labels: np.ndarray) -> dict[str, float | None]:
    mnist = small_mnist()
    return {
        "class": accuracy(class_read, class_labels),
        "mnist": accuracy(answers(params, mnist.test_images), mnist.test_labels),
    }


def changed(
    ids: np.ndarray, images: np.ndarray, labels: np.ndarray, before: np.ndarray, after: np.ndarray
) -> list[dict[str, Any]]:
    """The held-out drawings the fine-tune made the network read differently: before -> after, with
    their pixels (for thumbnails). At most HELD_OUT's share of MAX_DRAWINGS: a bounded answer."""
    return [
        {
            "id": int(ids[i]),
            "label": int(labels[i]),
            "before": int(before[i]),
            "after": int(after[i]),
            "pixels": base64.b64encode(images[i].tobytes()).decode(),
        }
        for i in np.flatnonzero(before != after)
    ]


def tune(req: TuneRequest, ids: np.ndarray, images: np.ndarray, labels: np.ndarray, served: Params) -> dict[str, Any]:
    test = held_out(ids)
    if (~test).sum() < MIN_DRAWINGS - 1 or len(ids) < MIN_DRAWINGS:
        raise TooFewDrawings(f"save at least {MIN_DRAWINGS} drawings before fine-tuning (there are {len(ids)})")
    if req.resume is None:
        run = Run.tuning(served, req.seed)
    else:
        run = decode_resume(req.resume)
        if run.recipe.name != CLASS.name:
            raise InvalidRun("resume is a run of POST /train, not a fine-tuning run; start one without resume")
    x, y = mix(images[~test], labels[~test])
    losses = run.train(x, y, req.steps)
    if not run.is_sane():
        raise InvalidRun(f"the run diverged (a parameter left +-{PARAM_LIMIT:g} or became NaN); start it again")
    tuned = run.serving_params()
    read_before, read_after = answers(served, images[test]), answers(tuned, images[test])
    return {
        "step": run.step,
        "losses": losses,
        "drawings": int((~test).sum()),
        "held_out": int(test.sum()),
        "before": scores(served, read_before, labels[test]),
        "after": scores(tuned, read_after, labels[test]),
        "changed": changed(ids[test], images[test], labels[test], read_before, read_after),
        "calibration": calibration(tuned, images[test], labels[test]),
        "resume": base64.b64encode(run.encode()).decode(),
        "params": encode_params(tuned),
    }
