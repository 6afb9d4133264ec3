"""What each endpoint does with a request's bytes: validate (schemas), compute (service), answer (JSON).

These are plain functions of a Job, with no FastAPI in them, so that the same code answers on the
event loop (a small /predict) and in a worker process (everything else, app/pool.py). Whatever
they raise becomes a status and a sentence in one place, errors.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header

from model import CNN
from model.codec import encode_params
from model.floats import flush_to_zero
from model.lab.check import Check
from model.lab.check import check as gradient_check
from model.lab.equations import equation as equation_of
from model.lab.nudge import nudge as nudge_drawing

from . import training
from .config import Settings
from .drawings import tuning as drawings_tuning
from .drawings import work as drawings
from .errors import ClientMistake, NotFinite, TooManyImages, detail_of, headers_of, status_of
from .facts import Facts
from .preprocessing import normalize, read_image
from .schemas import (
    BatchRequest,
    CheckRequest,
    EquationRequest,
    ExplainRequest,
    ExplainResponse,
    NudgeRequest,
    PredictRequest,
    PredictResponse,
    TeachRequest,
    TrainRequest,
    encode,
)
from .service import Classifier
from .strict_json import dumps

log = logging.getLogger("uvicorn.error")


@dataclass(frozen=True)
class Job:
    """One request, as much of it as an endpoint reads: small enough to hand to another process."""

    endpoint: str  # a key of ENDPOINTS
    body: bytes
    content_type: str = "application/json"
    feature_maps: bool = False  # /predict/image's query parameter
    inference_header: str | None = None  # OIP v2's Inference-Header-Content-Length, as sent (app/interop/)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes  # JSON
    headers: dict[str, str] = field(default_factory=dict)
    facts: Facts | None = None  # for the metrics: stages, digits, what the input looked like


class NeedsWorker(Exception):
    """Raised on the event loop by a request that turns out to be more work than the loop may do."""


def parse(schema: type[Any], job: Job, settings: Settings) -> Any:
    """The body, validated as `schema` straight from the JSON text (pydantic's parser, one pass)."""
    return schema.model_validate_json(job.body, context={"max_drawing_side": settings.max_drawing_side})


def predict(job: Job, clf: Classifier, settings: Settings, on_loop: bool, facts: Facts) -> Any:
    req: PredictRequest = parse(PredictRequest, job, settings)
    if on_loop and req.normalize:  # normalising a drawing may take milliseconds: a worker's job
        raise NeedsWorker
    facts.saw(req.grid())
    facts.lap("decode")
    image = normalize(req.grid()) if req.normalize else req.grid()
    if req.normalize:
        facts.lap("normalise")
    p = clf.predict(image, feature_maps=req.feature_maps, params=req.client_params())
    facts.read([p.label], p.unsure)
    facts.lap("network")
    return PredictResponse.content(p, with_input=req.feature_maps or req.normalize, encoding=req.maps_encoding)


def explain(job: Job, clf: Classifier, settings: Settings, on_loop: bool, facts: Facts) -> Any:
    req: ExplainRequest = parse(ExplainRequest, job, settings)
    e = clf.explain(req.grid(), req.label, normalized=req.normalize, params=req.client_params())
    return ExplainResponse.content(e, req.maps_encoding)


def teach(job: Job, clf: Classifier, settings: Settings, on_loop: bool, facts: Facts) -> Any:
    req: TeachRequest = parse(TeachRequest, job, settings)
    lesson = clf.teach(req.grid(), req.label, req.lr, normalized=req.normalize, params=req.client_params())
    return {
        "params": encode_params(lesson.params),
        "label": req.label,
        "lr": req.lr,
        "loss_before": lesson.loss_before,
        "loss_after": lesson.loss_after,
        "probabilities_before": lesson.before.tolist(),
        "probabilities_after": lesson.after.tolist(),
    }


def predict_batch(job: Job, clf: Classifier, settings: Settings, on_loop: bool, facts: Facts) -> Any:
    req: BatchRequest = parse(BatchRequest, job, settings)
    if len(req.images) > settings.max_batch:
        raise TooManyImages(f"{len(req.images)} images in one call; the limit is {settings.max_batch}")
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
    O = clf.predict_batch(images)
    unsure = clf.confidence.unsure(O)
    facts.read(O.argmax(axis=1).tolist(), int(unsure.sum()))
    facts.lap("network")
    return {
        "predictions": [
            {"label": int(o.argmax()), "probabilities": o.tolist(), "unsure": bool(u)}
            for o, u in zip(O, unsure, strict=True)
        ]
    }


def predict_image(job: Job, clf: Classifier, settings: Settings, on_loop: bool, facts: Facts) -> Any:
    reading = read_image(uploaded_file(job))
    facts.saw(reading.ink)  # the ink found on the paper, before it is cropped, scaled and centred
    facts.lap("decode")
    image = normalize(reading.ink)
    facts.lap("normalise")
    p = replace(clf.predict(image, feature_maps=job.feature_maps), reading=reading)
    facts.read([p.label], p.unsure)
    facts.lap("network")
    return PredictResponse.content(p, with_input=True)


def drawing_and_network(req: Any, clf: Classifier) -> tuple[np.ndarray, CNN]:
    """The request's 28x28 input (normalised when asked) and the network (the visitor's, or the shared)."""
    image = normalize(req.grid()) if req.normalize else np.asarray(req.grid(), dtype=np.float64)
    net, _ = clf.network(req.client_params())
    return image, net


def check(job: Job, clf: Classifier, settings: Settings, on_loop: bool, facts: Facts) -> Any:
    req: CheckRequest = parse(CheckRequest, job, settings)
    image, net = drawing_and_network(req, clf)
    c = gradient_check(net.params, image, req.label, req.gradient, tuple(req.index), req.epsilon)
    for value in (c.analytic, c.numerical, c.left, c.right):
        if not np.isfinite(value):
            raise NotFinite("the loss is not finite here; try a smaller epsilon")
    return {
        "gradient": c.gradient,
        "index": list(c.index),
        "epsilon": c.epsilon,
        "analytic": c.analytic,
        "numerical": c.numerical,
        "relative_error": c.relative_error,
        "left": c.left,
        "right": c.right,
        "kink": c.kink,
        "agrees": c.agrees,
        "why": why(c),
    }


def why(c: Check) -> str:
    if c.kink:
        return (
            f"The loss has a corner here (a ReLU at exactly 0, or a max-pool window whose largest values tie): "
            f"nudged down it moves at {c.left:.6g}, nudged up at {c.right:.6g}, and backpropagation takes the slope "
            f"of the branch the forward pass chose ({c.analytic:.6g}); the central difference lies between."
        )
    if c.agrees:
        return (
            "They agree because backpropagation is the chain rule applied exactly: each gradient is the one "
            "after it times the local derivative, and the central difference measures the same slope "
            f"directly, to within ε² ({c.epsilon:g}²)."
        )
    return f"They differ by {c.relative_error:.2g} relative: more than float64's rounding at this ε explains."


def equation(job: Job, clf: Classifier, settings: Settings, on_loop: bool, facts: Facts) -> Any:
    req: EquationRequest = parse(EquationRequest, job, settings)
    image, net = drawing_and_network(req, clf)
    fw, bw = net.explain(image, req.label)
    return {"kind": req.kind, "index": req.index} | equation_of(
        net.params, fw, bw, req.label, req.kind, tuple(req.index)
    )


def nudge(job: Job, clf: Classifier, settings: Settings, on_loop: bool, facts: Facts) -> Any:
    req: NudgeRequest = parse(NudgeRequest, job, settings)
    image, net = drawing_and_network(req, clf)
    n = nudge_drawing(net.params, image, req.target, req.step, req.max_steps, req.mode)
    return {
        "image": n.frames[-1].tolist(),
        "label": n.label,
        "target": req.target,
        "steps": n.steps,
        "reached": n.label == req.target,
        "probabilities": n.probabilities.tolist(),
        "l2": n.l2,
        "largest_change": n.largest_change,
        "frames": encode(n.frames, "float16"),
        "target_probability": n.target_probability.tolist(),
    }


def train(job: Job, clf: Classifier, settings: Settings, on_loop: bool, facts: Facts) -> Any:
    req: TrainRequest = parse(TrainRequest, job, settings)
    return training.train(req.recipe, req.seed, req.resume, req.steps)


def interop(name: str) -> Callable[[Job, Classifier, Settings, bool, Facts], Any]:
    """An endpoint of app/interop/ (OIP v2, ONNX), which writes its own Answer: imported when first
    called, since it imports this module."""

    def run(job: Job, clf: Classifier, settings: Settings, on_loop: bool, facts: Facts) -> Any:
        from .interop import jobs

        return getattr(jobs, name)(job, clf, settings, on_loop, facts)

    return run


ENDPOINTS: dict[str, Callable[[Job, Classifier, Settings, bool, Facts], Any]] = {
    "predict": predict,
    "explain": explain,
    "teach": teach,
    "predict_batch": predict_batch,
    "predict_image": predict_image,
    "train": train,
    "check": check,
    "nudge": nudge,
    "equation": equation,
    "read_drawing": drawings.read_drawing,  # POST /drawings (app/drawings/)
    "tune_drawings": drawings_tuning.tune_job,  # POST /drawings/tune
    "v2_infer": interop("infer"),
    "model_onnx": interop("onnx_of_params"),
}


def answer(job: Job, clf: Classifier, settings: Settings, *, on_loop: bool = False) -> Answer:
    """The endpoint's answer to the job, or its failure as errors.py words it. On the event loop
    (on_loop) a request that needs more work than the loop may do raises NeedsWorker instead."""
    facts = Facts()
    try:
        with flush_to_zero():  # a subnormal costs what any other number does (model/floats.py)
            content = ENDPOINTS[job.endpoint](job, clf, settings, on_loop, facts)
        if isinstance(content, Answer):  # an endpoint that words its own answer (app/interop/)
            return content
        body = dumps(content)
        facts.lap("encode")
        return Answer(200, body, facts=facts)
    except NeedsWorker:
        raise
    except Exception as e:  # noqa: BLE001 -- every failure is answered, and logged when it is ours
        return failure(e)


def failure(e: BaseException) -> Answer:
    status = status_of(e)
    if status == 500:
        log.error("unexpected error", exc_info=e)
        return Answer(500, dumps({"detail": "internal error; it has been logged"}))
    return Answer(status, dumps({"detail": detail_of(e)}), headers_of(status))


def uploaded_file(job: Job) -> bytes:
    """The bytes of the form field "file" of a multipart/form-data body."""
    kind, options = parse_options_header(job.content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise MalformedUpload("the body is not multipart/form-data with a boundary")
    parts: list[tuple[bytes, list[bytes]]] = []  # (the part's headers, its data in pieces)
    header = bytearray()

    def on_part_begin() -> None:
        parts.append((b"", []))

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header.extend(data[start:end].lower() + b":")

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header.extend(data[start:end])

    def on_header_end() -> None:
        parts[-1] = (parts[-1][0] + bytes(header) + b"\n", parts[-1][1])
        header.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1][1].append(data[start:end])

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
        },
    )
    try:
        parser.write(job.body)
        parser.finalize()
    except MultipartParseError as e:
        raise MalformedUpload(str(e)) from None
    for headers, data in parts:
        for line in headers.split(b"\n"):
            if line.startswith(b"content-disposition:"):
                _, params = parse_options_header(line.removeprefix(b"content-disposition:").strip())
                if params.get(b"name") == b"file":
                    return b"".join(data)
    raise MissingFile(
        "the form has no field 'file'; send the image as the form field 'file', e.g. curl -F file=@digit.png"
    )


class MalformedUpload(ClientMistake):
    def __init__(self, why: str) -> None:
        super().__init__(
            f"the upload is not valid multipart/form-data ({why}); send the image as the form "
            "field 'file', e.g. curl -F file=@digit.png"
        )


class MissingFile(ClientMistake):
    pass
