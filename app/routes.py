"""The API's endpoints: what each is, for the OpenAPI document, and a hand-over to the request path.

Every endpoint that takes a body is answered by app/request_path.py, the one place that reads,
admits and validates bodies and maps failures to statuses; the GET endpoints answer from memory.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from .config import Settings
from .request_path import RequestPath
from .schemas import (
    BatchRequest,
    BatchResponse,
    CheckRequest,
    CheckResponse,
    EquationRequest,
    ErrorResponse,
    ExplainRequest,
    ExplainResponse,
    Health,
    Kernels,
    ModelInfo,
    NudgeRequest,
    NudgeResponse,
    PredictRequest,
    PredictResponse,
    TeachRequest,
    TeachResponse,
    TrainRequest,
    TrainResponse,
)
from .service import Classifier


# async, so that FastAPI calls them on the event loop instead of handing each to a worker thread.
async def get_classifier(request: Request) -> Classifier:
    return request.app.state.classifier


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


ClassifierDep = Annotated[Classifier, Depends(get_classifier)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]

ERRORS: dict[int | str, dict[str, Any]] = {
    408: {"model": ErrorResponse, "description": "the body did not arrive in time"},
    413: {"model": ErrorResponse, "description": "the request, image or batch is too large"},
    415: {
        "model": ErrorResponse,
        "description": "the body is not of the endpoint's media type, or the file not a supported image format",
    },
    422: {"model": ErrorResponse, "description": "the input is malformed, out of range or blank"},
    503: {
        "model": ErrorResponse,
        "description": "the server is busy: try again after Retry-After seconds",
        "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
    },
}

router = APIRouter()


def documented_body(schema: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI requestBody of an endpoint whose body the request path reads (named_bodies then
    moves its schema into the document's components)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema.model_json_schema(ref_template="#/components/schemas/{model}")}
            },
        }
    }


def named_bodies(document: dict[str, Any]) -> None:
    """Each JSON request body's schema as a named component ($ref), like the responses', so that a
    client generated from the document gets a PredictRequest class, not an anonymous one."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for operations in document["paths"].values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content is None or "$ref" in content["schema"]:
                continue
            schema = dict(content["schema"])
            components.update(schema.pop("$defs", {}))
            components[schema["title"]] = schema
            content["schema"] = {"$ref": f"#/components/schemas/{schema['title']}"}


UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "contentMediaType": "application/octet-stream",
                            "description": "the image (PNG, JPEG, GIF, BMP or WebP), any size up to the pixel limit",
                        }
                    },
                }
            }
        },
    }
}


async def respond(request: Request, endpoint: str, **options: Any) -> Response:
    path: RequestPath = request.app.state.path
    return await path.respond(request, endpoint, **options)


@router.post(
    "/predict",
    response_model=PredictResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="Classify one 28x28 grid (or a raw drawing)",
    openapi_extra=documented_body(PredictRequest),
)
async def predict(request: Request) -> Response:
    """The digit in `image`, with the ten softmax probabilities; with `feature_maps`,
    the activations of every layer as well; with `normalize`, the drawing is first
    made MNIST-like (a blank drawing is a 422)."""
    return await respond(request, "predict")


@router.post(
    "/explain",
    response_model=ExplainResponse,
    responses=ERRORS,
    summary="Backpropagation for your own drawing: every gradient of -ln O_label",
    openapi_extra=documented_body(ExplainRequest),
)
async def explain(request: Request) -> Response:
    """ "What if this were a 3?": the loss L = -ln O_label for `label` and its gradient for every
    quantity the article names (dLS ... dLk1), plus the gradient for the input image itself and
    each gradient's norm. With `params`, for a visitor's own copy of the network."""
    return await respond(request, "explain")


@router.post(
    "/teach",
    response_model=TeachResponse,
    responses=ERRORS,
    summary="One SGD step (eq. 66) on a copy of the network; the shared one never changes",
    openapi_extra=documented_body(TeachRequest),
)
async def teach(request: Request) -> Response:
    """k <- k - lr dL/dk for every parameter, on the visitor's copy (`params`, or the shared network's
    if absent), for L = -ln O_label of this image. Answers the new parameters, to be sent back with
    the next /teach, /explain or /predict; nothing is kept between requests. A step that would take
    a parameter beyond the ±1000 the service accepts is refused (422)."""
    return await respond(request, "teach")


@router.post(
    "/nudge",
    response_model=NudgeResponse,
    responses=ERRORS,
    summary="Make it a 9: change the drawing, not the network, by gradient steps on the image",
    openapi_extra=documented_body(NudgeRequest),
)
async def nudge(request: Request) -> Response:
    """I <- clip(I - step * dL/dI, 0, 1) with L = -ln O_target, until the network reads `target` or
    `max_steps` (at most 200) have been taken. `mode` "add" only adds ink, "remove" only takes it
    away. Answers the final grid, what the network reads, the steps, how far the picture moved
    (L2 and the largest pixel change), and every frame for animation."""
    return await respond(request, "nudge")


@router.post(
    "/equation",
    responses=ERRORS,
    summary="One of the article's equations with your drawing's numbers in it, for one cell",
    openapi_extra=documented_body(EquationRequest),
)
async def equation(request: Request) -> Response:
    """The terms of eq. (1), (2), (5), (6), (23), (43) or (65) for one cell, read from the arrays the
    network computed for this drawing (and label), beside the value the network has there. For (6),
    L is computed from the scores (ln Σ exp S - S_label, with `log_probability` = -L): finite even
    where O_label rounds to 0, so the answer never holds Infinity."""
    return await respond(request, "equation")


@router.post(
    "/check",
    response_model=CheckResponse,
    responses=ERRORS,
    summary="Check one number of one gradient by hand: the central difference in float64 beside backpropagation",
    openapi_extra=documented_body(CheckRequest),
)
async def check(request: Request) -> Response:
    """Nudges the one quantity `gradient` differentiates (a parameter, a pixel of the image, or an
    intermediate S1 ... S) at `index` by ±epsilon in float64, and answers (L(x+ε) - L(x-ε)) / 2ε beside
    backpropagation's value and their relative error. Where the loss has a corner (a ReLU at 0, a
    max-pool tie), `kink` says so and `left`/`right` give the two one-sided slopes."""
    return await respond(request, "check")


@router.post(
    "/train",
    response_model=TrainResponse,
    responses=ERRORS
    | {429: {"model": ErrorResponse, "description": "every training slot is taken; retry after a second"}},
    summary="Train a fresh network, a few hundred steps at a time; the run travels with the request",
    openapi_extra=documented_body(TrainRequest),
)
async def train(request: Request) -> Response:
    """Start a run from a recipe and a seed, or continue one from its `resume`, for `steps` steps on
    the article's small set (the first 10,000 MNIST training images), then score it on the first
    1,000 test images. The server keeps nothing: the answer's `resume` holds the parameters, the
    optimiser's state and the position in the shuffled data. The same request always gets the
    same answer, on any server."""
    return await respond(request, "train")


@router.post(
    "/predict/image",
    response_model=PredictResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="Classify an image file (PNG, JPEG, GIF, BMP, WebP)",
    openapi_extra=UPLOAD_BODY,
)
async def predict_image(
    request: Request, feature_maps: Annotated[bool, Query(description="also return the feature maps")] = False
) -> Response:
    """The image is always normalised like MNIST: dark-on-light or light-on-dark, any size,
    the ink cropped, fitted into 20x20 and centred by its mass in 28x28. A photo's EXIF
    orientation is applied first."""
    return await respond(request, "predict_image", feature_maps=feature_maps)


@router.post(
    "/predict/batch",
    response_model=BatchResponse,
    responses=ERRORS,
    summary="Classify many 28x28 grids at once",
    openapi_extra=documented_body(BatchRequest),
)
async def predict_batch(request: Request) -> Response:
    """One answer per image, in order, from a single forward pass. At most `max_batch`
    images per call (see GET /model)."""
    return await respond(request, "predict_batch")


@router.get("/model", response_model=ModelInfo, summary="What network answers, and how it was trained")
async def model_info(clf: ClassifierDep, settings: SettingsDep) -> ModelInfo:
    return ModelInfo.of(
        clf.metadata, clf.weights_path.name, settings.max_batch, settings.max_body_bytes, collecting=settings.collecting
    )


@router.get("/model/kernels", response_model=Kernels, summary="The convolution kernels and biases")
async def kernels(clf: ClassifierDep) -> Kernels:
    return Kernels(**{k: clf.net.params[k].astype(np.float64).tolist() for k in ("k1", "b1", "k2", "b2")})


@router.get("/healthz", response_model=Health, summary="Liveness and readiness")
async def healthz(clf: ClassifierDep) -> Health:
    return Health(status="ok", model_loaded=True, sha256=clf.metadata["sha256"])
