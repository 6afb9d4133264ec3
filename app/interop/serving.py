"""The work behind POST /v2/models/digits/infer and POST /model.onnx, as plain functions of a Job.

Like app/api/handlers.py's, they run on the event loop (a small inference) or in a worker process
(everything else), and each writes its own Answer: the protocol's errors are `{"error": ...}`
with 400 (PROTOCOL, their family), and its tensors may be binary, so neither fits the JSON answers
the request path writes.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

import numpy as np

from app.api.service import Classifier
from app.transport.endpoints import Call
from app.transport.errors import ClientMistake, Family, failure
from app.transport.jobs import Answer, Job, NeedsWorker
from model.codec import decode_params

from .schemas import InferRequest, Live, ModelMetadata, ModelReady, OnnxRequest, Ready, ServerMetadata
from .tensors import FEATURE_MAPS, encode, images_of, json_fits, json_maps_fit, metadata, split_body, wanted

log = logging.getLogger("uvicorn.error")

MODEL = "digits"
VERSION_DIGITS = 12  # of the weights' SHA-256: a version that changes whenever the weights do
SERVER = "numpy-cnn"
EXTENSIONS = ["binary_tensor_data"]
ONNX_HEADERS = {"Content-Disposition": 'attachment; filename="digits.onnx"'}


def version_of(clf: Classifier) -> str:
    return str(clf.metadata["sha256"])[:VERSION_DIGITS]


def infer(job: Job, call: Call) -> Answer:
    """The protocol's inference: the request's images through the network, the named outputs back."""
    clf, settings, facts = call.classifier, call.settings, call.facts
    try:
        text, binary = split_body(job.body, job.inference_header)
        json_fits(text, settings.max_batch)
        req = InferRequest.model_validate_json(text)
        outputs = wanted(req)
        json_maps_fit(req, outputs, settings.max_json_map_images)
        # As /predict: one image on the loop, its feature maps too (every output, which is what a request
        # naming none gets; its cost: BENCHMARKS.md); a batch in a worker (megabytes of maps to write,
        # and the loop's BLAS may spread it over every core)
        if call.on_loop and any(i.shape[:1] != [1] for i in req.inputs):
            raise NeedsWorker
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
        return failure(e, PROTOCOL)
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


def protocol_shape(sentence: str) -> dict[str, str]:
    return {"error": sentence}


# A failure as the protocol words it: {"error": ...}; a client's mistake is a 400.
PROTOCOL = Family(shape=protocol_shape, hidden=(), as_400=frozenset({415, 422}))


def onnx_of_params(job: Job, call: Call) -> Answer:
    """A visitor's network as ONNX (uncalibrated, as /predict answers with it)."""
    from model.onnx_export import to_onnx  # the onnx package is imported by the workers that need it

    req = OnnxRequest.model_validate_json(job.body)
    return Answer(200, to_onnx(decode_params(req.params)), {"Content-Type": "application/octet-stream", **ONNX_HEADERS})


class UnknownModel(ClientMistake):
    status = 404


def served(path: dict[str, Any], clf: Classifier) -> None:
    """Refuses (404, in the protocol's words) a model or version this server does not serve."""
    model_name, version = str(path.get("model_name")), path.get("model_version")
    if model_name != MODEL:
        raise UnknownModel(f"unknown model {model_name[:40]!r}; this server serves {MODEL!r}")
    if version is not None and version != version_of(clf):
        raise UnknownModel(f"unknown version {str(version)[:40]!r} of {MODEL!r}; it is {version_of(clf)}")


def server_metadata(job: Job, call: Call) -> Any:
    return ServerMetadata(name=SERVER, version="0.1.0", extensions=EXTENSIONS).model_dump()


def live(job: Job, call: Call) -> Any:
    return Live(live=True).model_dump()


def ready(job: Job, call: Call) -> Any:
    return Ready(ready=True).model_dump()  # answered once the lifespan has loaded the network


def model_metadata(job: Job, call: Call) -> Any:
    inputs, outputs = metadata()
    return ModelMetadata(
        name=MODEL, versions=[version_of(call.classifier)], platform="numpy", inputs=inputs, outputs=outputs
    ).model_dump()


def model_ready(job: Job, call: Call) -> Any:
    return ModelReady(name=MODEL, ready=True).model_dump()


ONNX_OF: weakref.WeakKeyDictionary[Classifier, bytes] = weakref.WeakKeyDictionary()  # built when first asked for


def onnx_download(job: Job, call: Call) -> Answer:
    """Input `image` (N, 28, 28) in [0, 1]; outputs `probabilities` (calibrated, as /predict's) and
    `scores`. Built once, when first asked for."""
    clf = call.classifier
    if clf not in ONNX_OF:
        from model.onnx_export import to_onnx  # the onnx package is imported by the processes that need it

        ONNX_OF[clf] = to_onnx(clf.net.params, clf.confidence.temperature)
    return Answer(200, ONNX_OF[clf], ONNX_HEADERS, media_type="application/octet-stream")
