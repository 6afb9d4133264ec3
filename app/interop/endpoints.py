"""The endpoints that speak others' standards: the Open Inference Protocol v2 under /v2, and the
network as ONNX at /model.onnx, declared beside their work (jobs.py)."""

from __future__ import annotations

from typing import Any, Literal

from app.transport.endpoints import INLINE_BYTES, Endpoint, job_handler, the_job

from . import documents as oip_documents
from . import jobs as interop_jobs
from . import schemas as interop_schemas

ONNX_BODY_BYTES = 64 * 1024  # POST /model.onnx carries ~21 KB of parameters


def oip(name: str, method: Literal["GET", "POST"], path: str, summary: str, **declared: Any) -> Endpoint:
    """One of the Open Inference Protocol's endpoints (app/interop/): answered on the event loop unless
    declared otherwise, its failures in the protocol's words."""
    defaults: dict[str, Any] = {"runs": "loop", "cost": "memory", "family": interop_jobs.PROTOCOL}
    return Endpoint(name=name, method=method, path=path, summary=summary, **(defaults | declared))


def oip_infer(name: str, path: str, summary: str) -> Endpoint:
    return oip(
        name, "POST", path, summary, handler=job_handler(interop_jobs.infer),
        request=the_job(None, header="inference-header-content-length"), response=interop_schemas.InferResponse,
        runs="pool", cost="light", inline_bytes=INLINE_BYTES, identity_only=True, check=interop_jobs.served,
        documented_errors=oip_documents.ERRORS,
        openapi={"description": oip_documents.INFER_DOC}
        | oip_documents.body_schema(interop_schemas.InferRequest, binary=True),
    )  # fmt: skip


MODEL_PATH = "/v2/models/{model_name}"
VERSION_PATH = MODEL_PATH + "/versions/{model_version}"
# The protocol's endpoints and ONNX's: routed by app/interop/routes.py's router, which only looks at
# their paths; the inference routes first, as the router tries its routes in order and these carry the load.
OIP: tuple[Endpoint, ...] = (
    oip_infer("v2_infer", MODEL_PATH + "/infer", "Classify digits, the protocol's way"),
    oip_infer("v2_infer_version", VERSION_PATH + "/infer", "Classify digits, the protocol's way, at a version"),
    oip("v2_server_metadata", "GET", "/v2", "The server, and the protocol's extensions it speaks",
        handler=job_handler(interop_jobs.server_metadata), response=interop_schemas.ServerMetadata),
    oip("v2_live", "GET", "/v2/health/live", "Is the server running",
        handler=job_handler(interop_jobs.live), response=interop_schemas.Live),
    oip("v2_ready", "GET", "/v2/health/ready", "Is the server ready for inference",
        handler=job_handler(interop_jobs.ready), response=interop_schemas.Ready),
    oip("v2_model_metadata", "GET", MODEL_PATH, "The model's tensors", handler=job_handler(interop_jobs.model_metadata),
        response=interop_schemas.ModelMetadata, check=interop_jobs.served, documented_errors=oip_documents.ERRORS),
    oip("v2_model_version_metadata", "GET", VERSION_PATH, "The model's tensors, at a version",
        handler=job_handler(interop_jobs.model_metadata), response=interop_schemas.ModelMetadata,
        check=interop_jobs.served, documented_errors=oip_documents.ERRORS),
    oip("v2_model_ready", "GET", MODEL_PATH + "/ready", "Is the model ready",
        handler=job_handler(interop_jobs.model_ready), response=interop_schemas.ModelReady,
        check=interop_jobs.served, documented_errors=oip_documents.ERRORS),
    oip("v2_model_version_ready", "GET", VERSION_PATH + "/ready", "Is the model ready, at a version",
        handler=job_handler(interop_jobs.model_ready), response=interop_schemas.ModelReady,
        check=interop_jobs.served, documented_errors=oip_documents.ERRORS),
    Endpoint(
        name="onnx_download", method="GET", path="/model.onnx", handler=job_handler(interop_jobs.onnx_download),
        summary="The served network as an ONNX model (opset 17): open it in Netron, run it with onnxruntime",
        response=None, media_type="application/octet-stream", cost="memory", runs="loop",
        documented_errors={200: oip_documents.BINARY},
    ),
    Endpoint(
        name="onnx_of_params", method="POST", path="/model.onnx", handler=job_handler(interop_jobs.onnx_of_params),
        summary="A visitor's own network (its params, as /teach answers them) as an ONNX model",
        request=the_job("application/json"), response=None, media_type="application/octet-stream", cost="heavy",
        body_bytes=ONNX_BODY_BYTES, identity_only=True,
        documented_errors={200: oip_documents.BINARY, 413: oip_documents.ERRORS[413] | {"model": None},
                           422: {"description": "the params are not a network"}},
        openapi=oip_documents.body_schema(interop_schemas.OnnxRequest),
    ),
)  # fmt: skip
