"""What each endpoint does with its validated request: compute (service, model/), and answer (responses).

These are plain functions of a request and a Call, with no FastAPI in them, so that the same code
answers on the event loop (a small /predict, the GET endpoints) and in a worker process (everything
else, app/transport/pool.py). Each is declared once, with its path and its models, in
app/api/endpoints.py; its docstring is the endpoint's description in the OpenAPI document.
Whatever they raise carries its status; app/transport/errors.py words it in the endpoint family's shape.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from app.pictures.preprocessing import normalize, read_image
from app.transport.endpoints import Call
from app.transport.errors import NotFinite, TooManyImages
from app.transport.jobs import NeedsWorker
from model import CNN
from model.lab.check import check as gradient_check
from model.lab.equations import Known
from model.lab.equations import equation as equation_of
from model.lab.nudge import nudge as nudge_drawing

from . import training
from .lab_requests import CheckRequest, EquationRequest, ExplainRequest, NudgeRequest, TeachRequest, TrainRequest
from .lab_responses import CheckResponse, EquationResponse, ExplainResponse, NudgeResponse, TeachResponse, TrainResponse
from .requests import BatchRequest, DrawingRequest, PredictRequest
from .responses import (
    BatchResponse,
    Health,
    Kernels,
    ModelInfo,
    PredictResponse,
)
from .service import Classifier


def predict(req: PredictRequest, call: Call) -> Any:
    """The digit in `image`, with the ten softmax probabilities; with `feature_maps`,
    the activations of every layer as well; with `normalize`, the drawing is first
    made MNIST-like (a blank drawing is a 422)."""
    if call.on_loop and req.normalize:  # normalising a drawing may take milliseconds: a worker's job
        raise NeedsWorker
    facts, grid = call.facts, req.grid()
    facts.saw(grid)
    facts.lap("decode")
    image = normalize(grid) if req.normalize else grid
    if req.normalize:
        facts.lap("normalise")
    p = call.classifier.predict(image, feature_maps=req.feature_maps, params=req.client_params())
    facts.read([p.label], p.unsure)
    facts.lap("network")
    return PredictResponse.content(p, with_input=req.feature_maps or req.normalize, encoding=req.maps_encoding)


def explain(req: ExplainRequest, call: Call) -> Any:
    """ "What if this were a 3?": the loss L = -ln O_label for `label` and its gradient for every
    quantity the article names (dLS ... dLk1), plus the gradient for the input image itself and
    each gradient's norm. With `params`, for a visitor's own copy of the network."""
    e = call.classifier.explain(req.grid(), req.label, normalized=req.normalize, params=req.client_params())
    return ExplainResponse.content(e, req.maps_encoding, with_forward=req.forward)


def teach(req: TeachRequest, call: Call) -> Any:
    """k <- k - lr dL/dk for every parameter, on the visitor's copy (`params`, or the shared network's
    if absent), for L = -ln O_label of this image. Answers the new parameters, to be sent back with
    the next /teach, /explain or /predict; nothing is kept between requests. A step that would take
    a parameter beyond the ±1000 the service accepts is refused (422)."""
    lesson = call.classifier.teach(req.grid(), req.label, req.lr, normalized=req.normalize, params=req.client_params())
    return TeachResponse.content(lesson, req.label, req.lr)


def predict_batch(req: BatchRequest, call: Call) -> Any:
    """One answer per image, in order, from a single forward pass. At most `max_batch`
    images per call (see GET /model)."""
    facts, limit = call.facts, call.settings.max_batch
    if len(req.images) > limit:
        raise TooManyImages(f"{len(req.images)} images in one call; the limit is {limit}")
    if req.normalize:  # drawings of any size, each seen and normalised on its own
        for grid in req.grids():
            facts.saw(grid)
        facts.lap("decode")
        images = np.stack([normalize(g) for g in req.grids()])
        facts.lap("normalise")
    else:
        images = np.stack(req.grids())
        facts.saw(images)
        facts.lap("decode")
    clf = call.classifier
    O = clf.predict_batch(images)
    facts.read(O.argmax(axis=1).tolist(), int(clf.confidence.unsure(O).sum()))
    facts.lap("network")
    return BatchResponse.content(O, clf.confidence)


def predict_image(upload: bytes, call: Call) -> Any:
    """The image is always normalised like MNIST: dark-on-light or light-on-dark, any size,
    the ink cropped, fitted into 20x20 and centred by its mass in 28x28. A photo's EXIF
    orientation is applied first."""
    facts = call.facts
    reading = read_image(upload)
    facts.saw(reading.ink)  # the ink found on the paper, before it is cropped, scaled and centred
    facts.lap("decode")
    image = normalize(reading.ink)
    facts.lap("normalise")
    p = replace(call.classifier.predict(image, feature_maps=call.params["feature_maps"]), reading=reading)
    facts.read([p.label], p.unsure)
    facts.lap("network")
    return PredictResponse.content(p, with_input=True)


def drawing_and_network(req: DrawingRequest, clf: Classifier) -> tuple[np.ndarray, CNN]:
    """The request's 28x28 input (normalised when asked) and the network (the visitor's, or the shared)."""
    image = normalize(req.grid()) if req.normalize else np.asarray(req.grid(), dtype=np.float64)
    net, _ = clf.network(req.client_params())
    return image, net


def check(req: CheckRequest, call: Call) -> Any:
    """Nudges the one quantity `gradient` differentiates (a parameter, a pixel of the image, or an
    intermediate S1 ... S) at `index` by ±epsilon in float64, and answers (L(x+ε) - L(x-ε)) / 2ε beside
    backpropagation's value and their relative error. Where the loss has a corner (a ReLU at 0, a
    max-pool tie), `kink` says so and `left`/`right` give the two one-sided slopes."""
    image, net = drawing_and_network(req, call.classifier)
    c = gradient_check(net.params, image, req.label, req.gradient, tuple(req.index), req.epsilon)
    if not np.isfinite([c.analytic, c.numerical, c.left, c.right]).all():
        raise NotFinite("the loss is not finite here; try a smaller epsilon")
    return CheckResponse.content(c)


def equation(req: EquationRequest, call: Call) -> Any:
    """One cell of any quantity the article names, (1) to (66): the value the network computed there,
    the equation's number and text, and its terms with this drawing's numbers, read from the arrays
    the network computed for this drawing (and label). The terms add up to the value: a long sum
    gives its largest terms and the rest as one number. For (6), L is computed from the scores
    (ln Σ exp S - S_label), so the answer never holds Infinity. `update` (66) steps a copy of the
    network with `lr` and answers the cell's old and new value, and the loss before and after."""
    image, net = drawing_and_network(req, call.classifier)
    fw, bw = net.explain(image, req.label)
    index = tuple(req.index)
    known = known_digits(call.settings.static_dir) if req.kind == "update" else None
    terms = equation_of(net.params, fw, bw, req.label, req.kind, index, req.parameter, req.lr, known)
    if not all_finite(terms):  # a visitor's extreme parameters can overflow float32; JSON has no infinity
        raise NotFinite("the network's numbers overflow with these parameters; send smaller parameters")
    return EquationResponse.content(req.kind, req.index, terms)


@lru_cache(maxsize=4)
def known_digits(static_dir: str | Path) -> Known | None:
    """The page's sample digits (static/samples.json: MNIST test images, 0..255, with their labels),
    read once: a step of (66) that makes one of them read wrong overshoots. None where there are none."""
    try:
        digits = json.loads((Path(static_dir) / "samples.json").read_text())["digits"]
        images = np.array([d["pixels"] for d in digits], dtype=np.float64) / 255
        labels = np.array([d["label"] for d in digits], dtype=np.int64)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if images.shape[1:] != (28, 28) or not np.isfinite(images).all():
        return None
    return Known(images.clip(0, 1), labels)


def all_finite(value: Any) -> bool:
    """Every number in a nested answer is finite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(all_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(all_finite(v) for v in value)
    return True


def nudge(req: NudgeRequest, call: Call) -> Any:
    """I <- clip(I - step * dL/dI, 0, 1) with L = -ln O_target, until the network reads `target` or
    `max_steps` (at most 200) have been taken. `mode` "add" only adds ink, "remove" only takes it
    away. Answers the final grid, what the network reads, the steps, how far the picture moved
    (L2 and the largest pixel change), and every frame for animation."""
    image, net = drawing_and_network(req, call.classifier)
    n = nudge_drawing(net.params, image, req.target, req.step, req.max_steps, req.mode)
    return NudgeResponse.content(n, req.target)


def train(req: TrainRequest, call: Call) -> Any:
    """Start a run from a recipe and a seed, or continue one from its `resume`, for `steps` steps on
    the article's small set (the first 10,000 MNIST training images), then score it on the first
    1,000 test images. The server keeps nothing: the answer's `resume` holds the parameters, the
    optimiser's state and the position in the shuffled data. The same request always gets the
    same answer, on any server."""
    return TrainResponse.content(training.train(req.recipe, req.seed, req.resume, req.steps))


def model_info(_: None, call: Call) -> Any:
    clf, settings = call.classifier, call.settings
    return ModelInfo.content(
        clf.metadata, clf.weights_path.name, settings.max_batch, settings.max_body_bytes, collecting=settings.collecting
    )


def kernels(_: None, call: Call) -> Any:
    return Kernels.content(call.classifier.net.params)


def healthz(_: None, call: Call) -> Any:
    return Health.content(call.classifier.metadata["sha256"])
