"""The Open Inference Protocol v2's JSON objects, as pydantic models: what its endpoints take and answer.

Names and fields are the protocol's own (KServe's "V2 protocol", Triton's HTTP API), so that its
clients read them; app/interop/tensors.py turns the tensors in them into arrays and back.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict

from app.api.requests import ParamsText, RequestBody

MAX_TENSORS = 16  # inputs or outputs one request may name: the model has 1 input and 7 outputs
MAX_NAME = 64  # characters of a tensor's name
MAX_DIMS = 8
MAX_DIM = 2**31 - 1
MAX_ID = 256  # characters of a request's id, echoed in the answer

Name = Annotated[str, Field(max_length=MAX_NAME)]
Dimension = Annotated[int, Strict(), Field(ge=0, le=MAX_DIM)]
Flag = Annotated[bool, Strict()]


class InputParameters(BaseModel):
    """The Binary Tensor Data extension: the tensor's bytes follow the JSON instead of `data`."""

    model_config = ConfigDict(extra="allow")

    binary_data_size: Annotated[int, Strict(), Field(ge=0, le=2**62)] | None = Field(
        None, description="bytes of this tensor in the body after the JSON, in the order of the inputs"
    )


class RequestInput(BaseModel):
    name: Name = Field(description="the model's input: image")
    shape: list[Dimension] = Field(max_length=MAX_DIMS, description="[N, 28, 28], [N, 784] or [N, 1, 28, 28]")
    datatype: str = Field(max_length=16, description="FP32 or FP64 in [0, 1], UINT8 in 0-255")
    parameters: InputParameters | None = None
    data: list[Any] | None = Field(
        None, description="the values, row-major: flat or nested as the shape; absent when binary_data_size is given"
    )


class OutputParameters(BaseModel):
    model_config = ConfigDict(extra="allow")

    binary_data: Flag | None = Field(None, description="answer this output as binary data after the JSON")
    classification: int | None = Field(None, description="Triton's classification extension: not supported")


class RequestOutput(BaseModel):
    name: Name = Field(description="probabilities, scores, label, C1, P1, C2 or P2")
    parameters: OutputParameters | None = None


class RequestParameters(BaseModel):
    model_config = ConfigDict(extra="allow")

    binary_data_output: Flag | None = Field(None, description="every output as binary data, unless it says otherwise")


class InferRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "inputs": [{"name": "image", "shape": [1, 784], "datatype": "FP32", "data": [0.0] * 784}],
                    "outputs": [{"name": "probabilities"}, {"name": "label"}],
                }
            ]
        }
    )

    id: str | None = Field(None, max_length=MAX_ID, description="echoed in the answer")
    parameters: RequestParameters | None = None
    inputs: list[RequestInput] = Field(min_length=1, max_length=MAX_TENSORS)
    outputs: list[RequestOutput] | None = Field(
        None, max_length=MAX_TENSORS, description="the outputs to answer, by name; all of them when absent"
    )


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = None


class InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[ResponseOutput]


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1 for the batch dimension")


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class Live(BaseModel):
    live: bool


class Ready(BaseModel):
    ready: bool


class ModelReady(BaseModel):
    name: str
    ready: bool


class ProtocolError(BaseModel):
    """How the protocol words every failure."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"error": "unknown model 'mnist'; this server serves 'digits'"}]}
    )

    error: str


class OnnxRequest(RequestBody):
    """POST /model.onnx: a visitor's own network, in the encoding of the other endpoints' `params`.
    Not the protocol's: like every other JSON body of the service, an unknown field is a 422."""

    params: ParamsText
