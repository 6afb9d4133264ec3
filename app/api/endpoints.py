"""The service's own endpoints (/predict, the lab's, /model, /healthz), each declared once beside its
handler (handlers.py): the router, the request path, the workers, the OpenAPI document and the
metrics read these declarations (app/registry.py gathers them with the other families').
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.transport.endpoints import INLINE_BYTES, Body, Doc, Endpoint, Params, Reply, Runs, json_body
from app.transport.error_docs import ERRORS, ErrorResponse

from . import handlers, lab_requests, lab_responses, requests, responses
from .uploads import uploaded_file


def upload_body(description: str) -> Body:
    """multipart/form-data with one file, in the form field "file": the handler gets its bytes."""
    file = {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"}
    schema = {"type": "object", "required": ["file"], "properties": {"file": file | {"description": description}}}
    return Body("multipart/form-data", lambda job, _: uploaded_file(job.body, job.content_type), schema)


class ImageQuery(BaseModel):
    feature_maps: bool = Field(False, description="also return the feature maps")


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        name="predict",
        method="POST",
        path="/predict",
        handler=handlers.predict,
        request=json_body(requests.PredictRequest),
        reply=Reply(responses.PredictResponse),
        runs=Runs("light", inline_bytes=INLINE_BYTES),
        doc=Doc("Classify one 28x28 grid (or a raw drawing)"),
    ),
    Endpoint(
        name="explain",
        method="POST",
        path="/explain",
        handler=handlers.explain,
        request=json_body(lab_requests.ExplainRequest),
        reply=Reply(lab_responses.ExplainResponse),
        runs=Runs("heavy"),
        doc=Doc("Backpropagation for your own drawing: every gradient of -ln O_label"),
    ),
    Endpoint(
        name="teach",
        method="POST",
        path="/teach",
        handler=handlers.teach,
        request=json_body(lab_requests.TeachRequest),
        reply=Reply(lab_responses.TeachResponse),
        runs=Runs("heavy"),
        doc=Doc("One SGD step (eq. 66) on a copy of the network; the shared one never changes"),
    ),
    Endpoint(
        name="nudge",
        method="POST",
        path="/nudge",
        handler=handlers.nudge,
        request=json_body(lab_requests.NudgeRequest),
        reply=Reply(lab_responses.NudgeResponse),
        runs=Runs("heavy"),
        doc=Doc("Make it a 9: change the drawing, not the network, by gradient steps on the image"),
    ),
    Endpoint(
        name="equation",
        method="POST",
        path="/equation",
        handler=handlers.equation,
        request=json_body(lab_requests.EquationRequest),
        reply=Reply(lab_responses.EquationResponse),
        runs=Runs("heavy"),
        doc=Doc("One of the article's equations with your drawing's numbers in it, for one cell"),
    ),
    Endpoint(
        name="check",
        method="POST",
        path="/check",
        handler=handlers.check,
        request=json_body(lab_requests.CheckRequest),
        reply=Reply(lab_responses.CheckResponse),
        runs=Runs("heavy"),
        doc=Doc("Check one number of one gradient by hand: the central difference in float64 beside backpropagation"),
    ),
    Endpoint(
        name="train",
        method="POST",
        path="/train",
        handler=handlers.train,
        request=json_body(lab_requests.TrainRequest),
        reply=Reply(lab_responses.TrainResponse),
        runs=Runs("training", training_slot="visitor"),
        doc=Doc(
            "Train a fresh network, a few hundred steps at a time; the run travels with the request",
            errors=ERRORS
            | {429: {"model": ErrorResponse, "description": "every training slot is taken; retry after a second"}},
        ),
    ),
    Endpoint(
        name="predict_image",
        method="POST",
        path="/predict/image",
        handler=handlers.predict_image,
        request=upload_body("the image (PNG, JPEG, GIF, BMP or WebP), any size up to the pixel limit"),
        reply=Reply(responses.PredictResponse),
        params=Params(query=ImageQuery),
        runs=Runs("heavy"),
        doc=Doc("Classify an image file (PNG, JPEG, GIF, BMP, WebP)"),
    ),
    Endpoint(
        name="predict_batch",
        method="POST",
        path="/predict/batch",
        handler=handlers.predict_batch,
        request=json_body(requests.BatchRequest),
        reply=Reply(responses.BatchResponse),
        runs=Runs("heavy"),
        doc=Doc("Classify many 28x28 grids at once"),
    ),
    Endpoint(
        name="model_info",
        method="GET",
        path="/model",
        handler=handlers.model_info,
        reply=Reply(responses.ModelInfo),
        runs=Runs("memory", where="loop"),
        doc=Doc("What network answers, and how it was trained"),
    ),
    Endpoint(
        name="kernels",
        method="GET",
        path="/model/kernels",
        handler=handlers.kernels,
        reply=Reply(responses.Kernels),
        runs=Runs("memory", where="loop"),
        doc=Doc("The convolution kernels and biases"),
    ),
    Endpoint(
        name="healthz",
        method="GET",
        path="/healthz",
        handler=handlers.healthz,
        reply=Reply(responses.Health),
        runs=Runs("memory", where="loop"),
        doc=Doc("Liveness and readiness"),
    ),
)
