"""Thin endpoints: validate (schemas), predict (service), answer (schemas)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any, TypeVar

import numpy as np
from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool

import model

from .client_params import encode_params
from .config import Settings
from .schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    ErrorResponse,
    ExplainRequest,
    ExplainResponse,
    Health,
    Kernels,
    ModelInfo,
    PredictRequest,
    PredictResponse,
    TeachRequest,
    TeachResponse,
    the_chosen_form,
)
from .service import Classifier

Body = TypeVar("Body", bound=BaseModel)


class TooManyImages(ValueError):
    """More images in one batch than the service takes (413)."""


# async, so that FastAPI calls them on the event loop instead of handing each to a worker thread.
async def get_classifier(request: Request) -> Classifier:
    return request.app.state.classifier


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


ClassifierDep = Annotated[Classifier, Depends(get_classifier)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]

ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "the request, image or batch is too large"},
    415: {"model": ErrorResponse, "description": "the file is not a supported image format"},
    422: {"model": ErrorResponse, "description": "the input is malformed, out of range or blank"},
}

router = APIRouter()


async def read_body(request: Request, schema: type[Body]) -> Body:
    """The body, validated as `schema` in one pass of pydantic's JSON parser.

    FastAPI would decode the JSON with Python's json module and then validate the objects: for
    784 numbers that is twice the time, more than the network itself takes. Bytes that are not
    JSON at all get the same 422 as any other malformed body (FastAPI would answer 400).
    """
    try:
        return schema.model_validate_json(await request.body())
    except ValidationError as e:
        raise RequestValidationError(the_chosen_form(e.errors(include_url=False))) from None


def json_body(schema: type[Body]) -> Callable[[Request], Awaitable[Body]]:
    """read_body as a dependency."""

    async def parse(request: Request) -> Body:
        return await read_body(request, schema)

    return parse


class CompactJSON(JSONResponse):
    """JSON written by pydantic's serializer (Rust) instead of Python's json module: 5x faster for
    an answer of Python numbers, the same JSON but for how some floats are spelled (1e-5, not 1e-05)."""

    def render(self, content: Any) -> bytes:
        return to_json(content)


def documented_body(schema: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI requestBody of an endpoint whose body json_body reads."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": schema.model_json_schema(ref_template="#/components/schemas/{model}")}}}}


@router.post("/predict", response_model=PredictResponse, response_model_exclude_none=True,
             responses={k: ERRORS[k] for k in (413, 422)}, summary="Classify one 28x28 grid (or a raw drawing)",
             openapi_extra=documented_body(PredictRequest))
async def predict(request: Request) -> Response:
    """The digit in `image`, with the ten softmax probabilities; with `feature_maps`,
    the activations of every layer as well; with `normalize`, the drawing is first
    made MNIST-like (a blank drawing is a 422)."""
    # The busiest route takes no FastAPI dependencies: solving them costs about as much per request
    # as the network's first layer. It reads the same body as json_body and the same classifier.
    req = await read_body(request, PredictRequest)
    clf: Classifier = request.app.state.classifier
    run = partial(clf.predict, req.grid(), feature_maps=req.feature_maps, normalized=req.normalize,
                  params=req.client_params())
    # A 28x28 grid costs a fraction of a millisecond: computed right here on the event loop, it
    # spares the hand-off to a worker thread and back. Normalising a large drawing takes longer,
    # so that goes to a worker thread and the loop keeps serving.
    p = await run_in_threadpool(run) if req.normalize else run()
    content = PredictResponse.content(p, with_input=req.feature_maps or req.normalize, encoding=req.maps_encoding)
    return CompactJSON(content)  # already the documented shape: skip FastAPI's second validation


@router.post("/explain", response_model=ExplainResponse, responses={k: ERRORS[k] for k in (413, 422)},
             summary="Backpropagation for your own drawing: every gradient of -ln O_label",
             openapi_extra=documented_body(ExplainRequest))
def explain(req: Annotated[ExplainRequest, Depends(json_body(ExplainRequest))], clf: ClassifierDep) -> Response:
    """"What if this were a 3?": the loss L = -ln O_label for `label` and its gradient for every
    quantity the article names (dLS ... dLk1), plus the gradient for the input image itself and
    each gradient's norm. With `params`, for a visitor's own copy of the network."""
    e = clf.explain(req.grid(), req.label, normalized=req.normalize, params=req.client_params())
    return CompactJSON(ExplainResponse.content(e, req.maps_encoding))


@router.post("/teach", response_model=TeachResponse, responses={k: ERRORS[k] for k in (413, 422)},
             summary="One SGD step (eq. 66) on a copy of the network; the shared one never changes",
             openapi_extra=documented_body(TeachRequest))
def teach(req: Annotated[TeachRequest, Depends(json_body(TeachRequest))], clf: ClassifierDep) -> TeachResponse:
    """k <- k - lr dL/dk for every parameter, on the visitor's copy (`params`, or the shared network's
    if absent), for L = -ln O_label of this image. Answers the new parameters, to be sent back with
    the next /teach, /explain or /predict; nothing is kept between requests."""
    lesson = clf.teach(req.grid(), req.label, req.lr, normalized=req.normalize, params=req.client_params())
    return TeachResponse(params=encode_params(lesson.params), label=req.label, lr=req.lr,
                         loss_before=lesson.loss_before, loss_after=lesson.loss_after,
                         probabilities_before=lesson.before.tolist(), probabilities_after=lesson.after.tolist())


@router.post("/predict/image", response_model=PredictResponse, response_model_exclude_none=True,
             responses=ERRORS, summary="Classify an image file (PNG, JPEG, GIF, BMP, WebP)")
def predict_image(clf: ClassifierDep,
                  file: Annotated[UploadFile, File(description="the image, any size up to the pixel limit")],
                  feature_maps: Annotated[bool, Query(description="also return the feature maps")] = False,
                  ) -> PredictResponse:
    """The image is always normalised like MNIST: dark-on-light or light-on-dark, any size,
    the ink cropped, fitted into 20x20 and centred by its mass in 28x28."""
    p = clf.predict_file(file.file.read(), feature_maps=feature_maps)
    return PredictResponse.of(p, with_input=True)


@router.post("/predict/batch", response_model=BatchResponse, responses={k: ERRORS[k] for k in (413, 422)},
             summary="Classify many 28x28 grids at once", openapi_extra=documented_body(BatchRequest))
def predict_batch(req: Annotated[BatchRequest, Depends(json_body(BatchRequest))], clf: ClassifierDep,
                  settings: SettingsDep) -> BatchResponse:
    """One answer per image, in order, from a single forward pass. At most `max_batch`
    images per call (see GET /model)."""
    if len(req.images) > settings.max_batch:
        raise TooManyImages(f"{len(req.images)} images in one call; the limit is {settings.max_batch}")
    O = clf.predict_batch(req.grids(), normalized=req.normalize)
    unsure = clf.confidence.unsure(O)
    return BatchResponse(predictions=[BatchItem(label=int(o.argmax()), probabilities=o.tolist(), unsure=bool(u))
                                      for o, u in zip(O, unsure, strict=True)])


@router.get("/model", response_model=ModelInfo, summary="What network answers, and how it was trained")
def model_info(clf: ClassifierDep, settings: SettingsDep) -> ModelInfo:
    meta = clf.metadata
    return ModelInfo(
        architecture=meta["architecture"]["layers"],
        parameters=model.NUM_PARAMS,
        param_shapes={k: list(v) for k, v in model.PARAM_SHAPES.items()},
        sha256=meta["sha256"],
        weights_file=clf.weights_path.name,
        max_batch=settings.max_batch,
        max_body_bytes=settings.max_body_bytes,
        metadata={k: v for k, v in meta.items() if k not in ("architecture", "sha256")},
    )


@router.get("/model/kernels", response_model=Kernels, summary="The convolution kernels and biases")
def kernels(clf: ClassifierDep) -> Kernels:
    return Kernels(**{k: clf.net.params[k].astype(np.float64).tolist() for k in ("k1", "b1", "k2", "b2")})


@router.get("/healthz", response_model=Health, summary="Liveness and readiness")
def healthz(clf: ClassifierDep) -> Health:
    return Health(status="ok", model_loaded=True, sha256=clf.metadata["sha256"])
