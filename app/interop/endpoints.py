"""The endpoints that speak others' standards: the Open Inference Protocol v2 under /v2, and the
network as ONNX at /model.onnx, declared beside their work (serving.py)."""

from __future__ import annotations

from typing import Any, Literal

from app.transport.endpoints import INLINE_BYTES, Doc, Endpoint, Params, Reply, Runs, the_job

from . import documents as oip_documents
from . import schemas as interop_schemas
from . import serving

ONNX_BODY_BYTES = 64 * 1024  # POST /model.onnx carries ~21 KB of parameters


def oip(name: str, method: Literal["GET", "POST"], path: str, **declared: Any) -> Endpoint:
    """One of the Open Inference Protocol's endpoints (app/interop/): answered on the event loop unless
    declared otherwise, its failures in the protocol's words."""
    defaults: dict[str, Any] = {"runs": Runs("memory", where="loop"), "family": serving.PROTOCOL}
    return Endpoint(name=name, method=method, path=path, **(defaults | declared))


def oip_infer(name: str, path: str, summary: str) -> Endpoint:
    return oip(
        name,
        "POST",
        path,
        handler=serving.infer,
        request=the_job(None, header="inference-header-content-length", identity_only=True),
        reply=Reply(interop_schemas.InferResponse),
        params=Params(check=serving.served),
        runs=Runs("light", where="pool", inline_bytes=INLINE_BYTES),
        doc=Doc(
            summary,
            errors=oip_documents.ERRORS,
            openapi={"description": oip_documents.INFER_DOC}
            | oip_documents.body_schema(interop_schemas.InferRequest, binary=True),
        ),
    )


MODEL_PATH = "/v2/models/{model_name}"
VERSION_PATH = MODEL_PATH + "/versions/{model_version}"
# The protocol's endpoints and ONNX's: routed by app/interop/protocol_router.py's router, which only looks at
# their paths; the inference routes first, as the router tries its routes in order and these carry the load.
OIP: tuple[Endpoint, ...] = (
    oip_infer("v2_infer", MODEL_PATH + "/infer", "Classify digits, the protocol's way"),
    oip_infer("v2_infer_version", VERSION_PATH + "/infer", "Classify digits, the protocol's way, at a version"),
    oip(
        "v2_server_metadata",
        "GET",
        "/v2",
        handler=serving.server_metadata,
        reply=Reply(interop_schemas.ServerMetadata),
        doc=Doc("The server, and the protocol's extensions it speaks"),
    ),
    oip(
        "v2_live",
        "GET",
        "/v2/health/live",
        handler=serving.live,
        reply=Reply(interop_schemas.Live),
        doc=Doc("Is the server running"),
    ),
    oip(
        "v2_ready",
        "GET",
        "/v2/health/ready",
        handler=serving.ready,
        reply=Reply(interop_schemas.Ready),
        doc=Doc("Is the server ready for inference"),
    ),
    oip(
        "v2_model_metadata",
        "GET",
        MODEL_PATH,
        handler=serving.model_metadata,
        reply=Reply(interop_schemas.ModelMetadata),
        params=Params(check=serving.served),
        doc=Doc("The model's tensors", errors=oip_documents.ERRORS),
    ),
    oip(
        "v2_model_version_metadata",
        "GET",
        VERSION_PATH,
        handler=serving.model_metadata,
        reply=Reply(interop_schemas.ModelMetadata),
        params=Params(check=serving.served),
        doc=Doc("The model's tensors, at a version", errors=oip_documents.ERRORS),
    ),
    oip(
        "v2_model_ready",
        "GET",
        MODEL_PATH + "/ready",
        handler=serving.model_ready,
        reply=Reply(interop_schemas.ModelReady),
        params=Params(check=serving.served),
        doc=Doc("Is the model ready", errors=oip_documents.ERRORS),
    ),
    oip(
        "v2_model_version_ready",
        "GET",
        VERSION_PATH + "/ready",
        handler=serving.model_ready,
        reply=Reply(interop_schemas.ModelReady),
        params=Params(check=serving.served),
        doc=Doc("Is the model ready, at a version", errors=oip_documents.ERRORS),
    ),
    Endpoint(
        name="onnx_download",
        method="GET",
        path="/model.onnx",
        handler=serving.onnx_download,
        reply=Reply(None, media_type="application/octet-stream"),
        runs=Runs("memory", where="loop"),
        doc=Doc(
            "The served network as an ONNX model (opset 17): open it in Netron, run it with onnxruntime",
            errors={200: oip_documents.BINARY},
        ),
    ),
    Endpoint(
        name="onnx_of_params",
        method="POST",
        path="/model.onnx",
        handler=serving.onnx_of_params,
        request=the_job("application/json", max_bytes=ONNX_BODY_BYTES, identity_only=True),
        reply=Reply(None, media_type="application/octet-stream"),
        runs=Runs("heavy"),
        doc=Doc(
            "A visitor's own network (its params, as /teach answers them) as an ONNX model",
            errors={
                200: oip_documents.BINARY,
                413: oip_documents.ERRORS[413] | {"model": None},
                422: {"description": "the params are not a network"},
            },
            openapi=oip_documents.body_schema(interop_schemas.OnnxRequest),
        ),
    ),
)
