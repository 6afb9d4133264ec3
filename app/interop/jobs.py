"""The work behind POST /v2/models/digits/infer and POST /model.onnx, as plain functions of a Job.

Like app/handlers.py's, they run on the event loop (a small inference) or in a worker process
(everything else), and each writes its own Answer: the protocol's errors are `{"error": ...}`
with 400, and its tensors may be binary, so neither fits the JSON answers handlers.answer writes.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from pydantic import ValidationError
from pydantic_core import to_json

from app.api.service import Classifier
from app.config import Settings
from app.errors import describe, detail_of, headers_of, status_of
from app.transport.facts import Facts
from app.transport.jobs import Answer, Job, NeedsWorker
from model.codec import decode_params

from .schemas import InferRequest, OnnxRequest
from .tensors import FEATURE_MAPS, encode, images_of, json_fits, split_body, wanted

log = logging.getLogger("uvicorn.error")

MODEL = "digits"
VERSION_DIGITS = 12  # of the weights' SHA-256: a version that changes whenever the weights do
ONNX_HEADERS = {"Content-Disposition": 'attachment; filename="digits.onnx"'}


def version_of(clf: Classifier) -> str:
    return str(clf.metadata["sha256"])[:VERSION_DIGITS]


def infer(job: Job, clf: Classifier, settings: Settings, on_loop: bool, facts: Facts) -> Answer:
    """The protocol's inference: the request's images through the network, the named outputs back."""
    try:
        text, binary = split_body(job.body, job.inference_header)
        json_fits(text, settings.max_batch)
        req = InferRequest.model_validate_json(text)
        outputs = wanted(req)
        if on_loop and any(w.name in FEATURE_MAPS for w in outputs):  # megabytes to write: a worker's job
            raise NeedsWorker
        if on_loop and any(i.shape[:1] != [1] for i in req.inputs):  # as /predict: one image on the loop,
            raise NeedsWorker  # a batch in a worker (the loop's BLAS may spread it over every core)
        images = images_of(req, binary, settings.max_batch)
        facts.saw(images)
        facts.lap("decode")
        arrays = outputs_of(clf, images, maps=any(w.name in FEATURE_MAPS for w in outputs))
        facts.read(arrays["label"].tolist(), int(clf.confidence.unsure(arrays["probabilities"]).sum()))
        facts.lap("network")
        head: dict[str, Any] = {"model_name": MODEL, "model_version": version_of(clf)}
        if req.id is not None:
            head["id"] = req.id
        body, header_length = encode(head, arrays, outputs)
        facts.lap("encode")
    except NeedsWorker:
        raise
    except Exception as e:  # noqa: BLE001 -- every failure is answered in the protocol's words
        return protocol_failure(e)
    if header_length is None:
        return Answer(200, body, facts=facts)
    headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(header_length)}
    return Answer(200, body, headers, facts)


def outputs_of(clf: Classifier, images: np.ndarray, *, maps: bool) -> dict[str, np.ndarray]:
    """Every output of the model for (N, 28, 28) images: the feature maps only when asked for, since
    they need the reference's whole forward pass, not only the fast path's scores."""
    net = clf.net
    if maps:
        fw = net.forward(images)
        S, extra = fw.S, {name: getattr(fw, name) for name in FEATURE_MAPS}
    else:
        S, extra = net.scores(images), {}
    O = clf.confidence.probabilities(S)  # as /predict answers them: softmax(S / T), in float64
    return {"probabilities": O, "scores": S, "label": O.argmax(axis=1), **extra}


def protocol_failure(e: BaseException) -> Answer:
    """A failure as the protocol words it: {"error": ...}; a client's mistake is a 400."""
    status = status_of(e)
    if status == 500:
        log.error("unexpected error", exc_info=e)
        return Answer(500, to_json({"error": "internal error; it has been logged"}))
    if status in (415, 422):
        status = 400
    if isinstance(e, ValidationError):
        detail = describe(e.errors(include_url=False, include_input=False))
    else:
        detail = detail_of(e)
    return Answer(status, to_json({"error": detail}), headers_of(status))


def onnx_of_params(job: Job, clf: Classifier, settings: Settings, on_loop: bool, facts: Facts) -> Answer:
    """POST /model.onnx: a visitor's network as ONNX (uncalibrated, as /predict answers with it)."""
    from model.onnx_export import to_onnx  # the onnx package is imported by the workers that need it

    req = OnnxRequest.model_validate_json(job.body)
    return Answer(200, to_onnx(decode_params(req.params)), {"Content-Type": "application/octet-stream", **ONNX_HEADERS})
