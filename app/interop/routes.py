"""The endpoints that speak others' standards: the Open Inference Protocol v2 under /v2, and the
network as ONNX at /model.onnx. Thin: the bodies are read and bounded by the request path's own
parts (admission, size, the worker pool), and the work is app/interop/jobs.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import ClientDisconnect
from starlette.routing import Match
from starlette.types import Scope

from model.floats import flush_to_zero

from ..errors import BodyTooLarge, Busy, ClientMistake, ShuttingDown, UnsupportedMediaType
from ..facts import Facts
from ..handlers import Answer, Job, NeedsWorker, failure
from ..request_path import INLINE_BYTES, RequestPath
from ..service import Classifier
from . import jobs
from .jobs import MODEL, ONNX_HEADERS, protocol_failure, version_of
from .schemas import (
    InferRequest,
    InferResponse,
    Live,
    ModelMetadata,
    ModelReady,
    OnnxRequest,
    ProtocolError,
    Ready,
    ServerMetadata,
)
from .tensors import metadata

SERVER = "numpy-cnn"
EXTENSIONS = ["binary_tensor_data"]
ONNX_BODY_BYTES = 64 * 1024  # POST /model.onnx carries ~21 KB of parameters
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ProtocolError, "description": "the request is malformed, or its tensors are"},
    404: {"model": ProtocolError, "description": "no such model or version"},
    413: {"model": ProtocolError, "description": "the body is larger than CNN_MAX_BODY_BYTES"},
    503: {"model": ProtocolError, "description": "the server is busy: try again after Retry-After seconds"},
}
BINARY = {"description": "the ONNX model", "content": {"application/octet-stream": {"schema": {"type": "string"}}}}


class Direct(APIRoute):
    """A route whose endpoint is called with the request and its path's parameters as they came
    (text), and answers a Response of its own: the request path reads and checks the body itself,
    so FastAPI's parameter and response machinery, a tenth of a small inference's time, is skipped.
    (FastAPI's documented extension point, "Custom Request and APIRoute class".)"""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handle(request: Request) -> Response:
            return await endpoint(request, **request.path_params)

        return handle


class OwnPaths(APIRouter):
    """A router that looks at a request only when its path is one of ours. Included before the API's
    own router, it costs the API's requests one string comparison, and spares the protocol's
    requests a route match against each of the API's endpoints first."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not str(scope.get("path", "")).startswith(OWN_PATHS):
            return Match.NONE, {}
        return super().matches(scope)


OWN_PATHS = ("/v2", "/model.onnx")
router = OwnPaths()


def body_schema(schema: type[BaseModel], binary: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {
        "application/json": {"schema": schema.model_json_schema(ref_template="#/components/schemas/{model}")}
    }
    if binary:  # the Binary Tensor Data extension: the JSON, then the tensors' bytes
        content["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
    header = {
        "name": "Inference-Header-Content-Length",
        "in": "header",
        "required": False,
        "schema": {"type": "integer", "minimum": 0},
        "description": "with binary tensors: how many bytes of the body are the JSON object",
    }
    return {"requestBody": {"required": True, "content": content}} | ({"parameters": [header]} if binary else {})


def unknown(model_name: str, version: str | None, clf: Classifier) -> JSONResponse | None:
    """A 404 in the protocol's words for a model or version this server does not serve, else None."""
    if model_name != MODEL:
        return JSONResponse({"error": f"unknown model {model_name[:40]!r}; this server serves {MODEL!r}"}, 404)
    if version is not None and version != version_of(clf):
        return JSONResponse({"error": f"unknown version {version[:40]!r} of {MODEL!r}; it is {version_of(clf)}"}, 404)
    return None


def model_metadata(clf: Classifier) -> ModelMetadata:
    inputs, outputs = metadata()
    return ModelMetadata(name=MODEL, versions=[version_of(clf)], platform="numpy", inputs=inputs, outputs=outputs)


class Compressed(ClientMistake):
    """A body with a Content-Encoding: the size limit is on what arrives, so nothing is inflated."""

    status = 415


async def respond(request: Request, endpoint: str, limit: int) -> Response:
    """The body read within `limit` and the request path's admission, then the job: on the event loop
    when it is small and says it may be (jobs raise NeedsWorker), else in a worker process."""
    path: RequestPath = request.app.state.path
    words = protocol_failure if endpoint == "v2_infer" else failure  # the protocol's, or the service's
    try:
        answer = await run(request, path, endpoint, limit)
    except ClientDisconnect:
        answer = Answer(499, b"{}")  # nobody is listening; uvicorn drops it
    except asyncio.CancelledError:
        answer = words(ShuttingDown("the server is stopping; try again in a moment"))
    except Exception as e:  # noqa: BLE001 -- errors.py decides what each one means
        answer = words(e)
        if path.metrics is not None and isinstance(e, Busy):
            path.metrics.turned_away("busy")
    if path.metrics is not None and answer.facts is not None:
        path.metrics.answered(endpoint, answer.facts)
    return Response(answer.body, answer.status, headers=answer.headers, media_type="application/json")


async def run(request: Request, path: RequestPath, endpoint: str, limit: int) -> Answer:
    if request.headers.get("content-encoding", "identity").strip().lower() != "identity":
        raise Compressed("send the body uncompressed, without a Content-Encoding")
    content_type = request.headers.get("content-type", "")
    if endpoint == "model_onnx" and content_type.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType("send the body as application/json (Content-Type: application/json)")
    declared = request.headers.get("content-length", "")
    length = None  # not declared (chunked): the reading counts it
    if declared.isascii() and declared.isdigit():
        length = int(declared) if len(declared) < 20 else limit + 1  # no 4,300-digit int() on the loop
    if length is not None and length > limit:
        raise BodyTooLarge(f"the request body is larger than {limit:,} bytes")
    with path.budget.hold(length) as received:  # the bodies in flight, counted as they arrive
        body = await read_body(request, limit, received)
        # The pool's seat is taken only now, with the whole body in hand (issue 25).
        job = Job(endpoint, body, content_type, inference_header=request.headers.get("inference-header-content-length"))
        if len(body) <= INLINE_BYTES and endpoint == "v2_infer":
            with contextlib.suppress(NeedsWorker), flush_to_zero():  # as every other answer (model/floats.py)
                return jobs.infer(job, request.app.state.classifier, path.settings, True, Facts())
        client_gone = asyncio.ensure_future(request.receive())  # completes when the client hangs up
        try:
            return await path.pool.run(job, client_gone)
        finally:
            client_gone.cancel()


async def read_body(request: Request, limit: int, received: Callable[[int], None]) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the request body is larger than {limit:,} bytes")
        received(len(chunk))
        chunks.append(chunk)
    return b"".join(chunks)


# The inference routes first: the router tries its routes in order, and these carry the load.
INFER_DOC = """The images of the input `image` ([N, 28, 28], [N, 784] or [N, 1, 28, 28]; FP32 or FP64 in
[0, 1], or UINT8 in 0-255; N at most CNN_MAX_BATCH) through the network. The outputs named in
`outputs` (probabilities, scores, label, C1, P1, C2, P2), or all of them, in JSON or, with the
Binary Tensor Data extension, as bytes after the JSON."""


async def v2_infer(request: Request, model_name: str) -> Response:
    clf, limit = request.app.state.classifier, request.app.state.settings.max_body_bytes
    return unknown(model_name, None, clf) or await respond(request, "v2_infer", limit)


async def v2_infer_version(request: Request, model_name: str, model_version: str) -> Response:
    clf, limit = request.app.state.classifier, request.app.state.settings.max_body_bytes
    return unknown(model_name, model_version, clf) or await respond(request, "v2_infer", limit)


for path, endpoint, at in (
    ("/v2/models/{model_name}/infer", v2_infer, ""),
    ("/v2/models/{model_name}/versions/{model_version}/infer", v2_infer_version, ", at a version"),
):
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        route_class_override=Direct,
        response_model=InferResponse,
        responses=ERRORS,
        summary="Classify digits, the protocol's way" + at,
        description=INFER_DOC,
        openapi_extra=body_schema(InferRequest, binary=True),
    )


@router.get("/v2", response_model=ServerMetadata, summary="The server, and the protocol's extensions it speaks")
async def v2_server_metadata() -> ServerMetadata:
    return ServerMetadata(name=SERVER, version="0.1.0", extensions=EXTENSIONS)


@router.get("/v2/health/live", response_model=Live, summary="Is the server running")
async def v2_live() -> Live:
    return Live(live=True)


@router.get("/v2/health/ready", response_model=Ready, summary="Is the server ready for inference")
async def v2_ready(request: Request) -> Ready:
    return Ready(ready=getattr(request.app.state, "classifier", None) is not None)


@router.get("/v2/models/{model_name}", response_model=ModelMetadata, responses=ERRORS, summary="The model's tensors")
async def v2_model_metadata(request: Request, model_name: str) -> Any:
    clf = request.app.state.classifier
    return unknown(model_name, None, clf) or model_metadata(clf)


@router.get(
    "/v2/models/{model_name}/versions/{model_version}",
    response_model=ModelMetadata,
    responses=ERRORS,
    summary="The model's tensors, at a version",
)
async def v2_model_version_metadata(request: Request, model_name: str, model_version: str) -> Any:
    clf = request.app.state.classifier
    return unknown(model_name, model_version, clf) or model_metadata(clf)


@router.get(
    "/v2/models/{model_name}/ready",
    response_model=ModelReady,
    responses=ERRORS,
    summary="Is the model ready",
)
async def v2_model_ready(request: Request, model_name: str) -> Any:
    return unknown(model_name, None, request.app.state.classifier) or ModelReady(name=MODEL, ready=True)


@router.get(
    "/v2/models/{model_name}/versions/{model_version}/ready",
    response_model=ModelReady,
    responses=ERRORS,
    summary="Is the model ready, at a version",
)
async def v2_model_version_ready(request: Request, model_name: str, model_version: str) -> Any:
    return unknown(model_name, model_version, request.app.state.classifier) or ModelReady(name=MODEL, ready=True)


@router.get(
    "/model.onnx",
    response_class=Response,
    responses={200: BINARY},
    summary="The served network as an ONNX model (opset 17): open it in Netron, run it with onnxruntime",
)
async def onnx_download(request: Request) -> Response:
    """Input `image` (N, 28, 28) in [0, 1]; outputs `probabilities` (calibrated, as /predict's) and
    `scores`. Built once, when first asked for."""
    state = request.app.state
    if getattr(state, "onnx", None) is None:
        from model.onnx_export import to_onnx

        state.onnx = to_onnx(state.classifier.net.params, state.classifier.confidence.temperature)
    return Response(state.onnx, media_type="application/octet-stream", headers=ONNX_HEADERS)


@router.post(
    "/model.onnx",
    response_class=Response,
    responses={200: BINARY, 413: ERRORS[413] | {"model": None}, 422: {"description": "the params are not a network"}},
    summary="A visitor's own network (its params, as /teach answers them) as an ONNX model",
    openapi_extra=body_schema(OnnxRequest),
)
async def onnx_of_params(request: Request) -> Response:
    return await respond(request, "model_onnx", ONNX_BODY_BYTES)
