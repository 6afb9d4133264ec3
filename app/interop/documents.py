"""What the OpenAPI document says of the protocol's endpoints beyond their declarations
(app/api/endpoints.py, OIP): the protocol's failures, its binary bodies, inference's description."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .schemas import ProtocolError

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ProtocolError, "description": "the request is malformed, or its tensors are"},
    404: {"model": ProtocolError, "description": "no such model or version"},
    413: {"model": ProtocolError, "description": "the body is larger than CNN_MAX_BODY_BYTES"},
    503: {"model": ProtocolError, "description": "the server is busy: try again after Retry-After seconds"},
}
BINARY = {"description": "the ONNX model", "content": {"application/octet-stream": {"schema": {"type": "string"}}}}
INFER_DOC = """The images of the input `image` ([N, 28, 28], [N, 784] or [N, 1, 28, 28]; FP32 or FP64 in
[0, 1], or UINT8 in 0-255; N at most CNN_MAX_BATCH) through the network. The outputs named in
`outputs` (probabilities, scores, label, C1, P1, C2, P2), or all of them, in JSON or, with the
Binary Tensor Data extension, as bytes after the JSON."""


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
