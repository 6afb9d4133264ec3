"""The service's own endpoints (/predict, the lab's, /model, /healthz), each declared once beside its
handler (handlers.py): the router, the request path, the workers, the OpenAPI document and the
metrics read these declarations (app/registry.py gathers them with the other families').
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.transport.endpoints import INLINE_BYTES, Body, Endpoint, json_body

from . import handlers, lab_responses, requests, responses
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
        name="predict", method="POST", path="/predict", handler=handlers.predict,
        summary="Classify one 28x28 grid (or a raw drawing)",
        request=json_body(requests.PredictRequest), response=responses.PredictResponse,
        cost="light", inline_bytes=INLINE_BYTES,
    ),
    Endpoint(
        name="explain", method="POST", path="/explain", handler=handlers.explain,
        summary="Backpropagation for your own drawing: every gradient of -ln O_label",
        request=json_body(requests.ExplainRequest), response=lab_responses.ExplainResponse, cost="heavy",
    ),
    Endpoint(
        name="teach", method="POST", path="/teach", handler=handlers.teach,
        summary="One SGD step (eq. 66) on a copy of the network; the shared one never changes",
        request=json_body(requests.TeachRequest), response=lab_responses.TeachResponse, cost="heavy",
    ),
    Endpoint(
        name="nudge", method="POST", path="/nudge", handler=handlers.nudge,
        summary="Make it a 9: change the drawing, not the network, by gradient steps on the image",
        request=json_body(requests.NudgeRequest), response=lab_responses.NudgeResponse, cost="heavy",
    ),
    Endpoint(
        name="equation", method="POST", path="/equation", handler=handlers.equation,
        summary="One of the article's equations with your drawing's numbers in it, for one cell",
        request=json_body(requests.EquationRequest), response=lab_responses.EquationResponse, cost="heavy",
    ),
    Endpoint(
        name="check", method="POST", path="/check", handler=handlers.check,
        summary="Check one number of one gradient by hand: the central difference in float64 beside backpropagation",
        request=json_body(requests.CheckRequest), response=lab_responses.CheckResponse, cost="heavy",
    ),
    Endpoint(
        name="train", method="POST", path="/train", handler=handlers.train,
        summary="Train a fresh network, a few hundred steps at a time; the run travels with the request",
        request=json_body(requests.TrainRequest), response=lab_responses.TrainResponse,
        cost="training", training_slot="visitor",
        errors={429: "every training slot is taken; retry after a second"},
    ),
    Endpoint(
        name="predict_image", method="POST", path="/predict/image", handler=handlers.predict_image,
        summary="Classify an image file (PNG, JPEG, GIF, BMP, WebP)",
        request=upload_body("the image (PNG, JPEG, GIF, BMP or WebP), any size up to the pixel limit"),
        query=ImageQuery, response=responses.PredictResponse, cost="heavy",
    ),
    Endpoint(
        name="predict_batch", method="POST", path="/predict/batch", handler=handlers.predict_batch,
        summary="Classify many 28x28 grids at once",
        request=json_body(requests.BatchRequest), response=responses.BatchResponse, cost="heavy",
    ),
    Endpoint(
        name="model_info", method="GET", path="/model", handler=handlers.model_info,
        summary="What network answers, and how it was trained",
        response=responses.ModelInfo, cost="memory", runs="loop",
    ),
    Endpoint(
        name="kernels", method="GET", path="/model/kernels", handler=handlers.kernels,
        summary="The convolution kernels and biases", response=responses.Kernels, cost="memory", runs="loop",
    ),
    Endpoint(
        name="healthz", method="GET", path="/healthz", handler=handlers.healthz,
        summary="Liveness and readiness", response=responses.Health, cost="memory", runs="loop",
    ),
)  # fmt: skip
