"""The protocol's tensors <-> NumPy arrays: in JSON (`data`, flat or nested) or as binary data (the
Binary Tensor Data extension), every size checked against its shape and datatype before anything
is allocated.

With binary data, a body is its JSON object, then the bytes of each input that carries
`binary_data_size`, in the order of the inputs; the Inference-Header-Content-Length header says
where the JSON ends. An answer with binary outputs is laid out the same way. Imports NumPy and the
protocol's models; the handlers (app/interop/serving.py) import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any

import numpy as np
from pydantic_core import to_json

from app.transport.errors import ClientMistake
from model.architecture import IMAGE_SHAPE, LAYERS

from .schemas import InferRequest, RequestInput, TensorMetadata

INPUT = "image"
DATATYPES: dict[str, np.dtype] = {
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "UINT8": np.dtype("u1"),
    "INT64": np.dtype("<i8"),
}
INPUT_DATATYPES = ("FP32", "FP64", "UINT8")  # floats in [0, 1]; bytes 0-255, as an image file holds them
PIXELS = prod(IMAGE_SHAPE)
IMAGE_SHAPES = (IMAGE_SHAPE, (PIXELS,), (1, *IMAGE_SHAPE))  # one image, after the batch dimension
JSON_SLACK = 4096  # commas and brackets a request may spend beyond its images' (outputs, shape, parameters)
HEADER_DIGITS = 12  # a header length longer than this is not a length any body here could have

_SHAPES = {layer.name: layer.shape for layer in LAYERS}
OUTPUTS: dict[str, tuple[str, tuple[int, ...]]] = {  # name -> (datatype, shape of one image's)
    "probabilities": ("FP32", _SHAPES["O"]),  # softmax(S / T), calibrated as /predict answers it
    "scores": ("FP32", _SHAPES["S"]),
    "label": ("INT64", ()),
    **{name: ("FP32", _SHAPES[name]) for name in ("C1", "P1", "C2", "P2")},
}
FEATURE_MAPS = frozenset(("C1", "P1", "C2", "P2"))


class BadTensor(ClientMistake):
    """A request the protocol's words call bad: 400."""

    status = 400


@dataclass(frozen=True)
class Wanted:
    """One output to answer, and whether as binary data."""

    name: str
    binary: bool


def metadata() -> tuple[list[TensorMetadata], list[TensorMetadata]]:
    """The model's inputs and outputs as GET /v2/models/digits names them (-1: any batch size)."""
    inputs = [TensorMetadata(name=INPUT, datatype="FP32", shape=[-1, *IMAGE_SHAPE])]
    outputs = [TensorMetadata(name=n, datatype=t, shape=[-1, *shape]) for n, (t, shape) in OUTPUTS.items()]
    return inputs, outputs


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, memoryview]:
    """The body's JSON and the binary data after it (none without the header)."""
    if header_length is None:
        return body, memoryview(b"")
    text = header_length.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > HEADER_DIGITS:  # '²' is a digit to isdigit
        raise BadTensor(f"Inference-Header-Content-Length must be a number of bytes, got {text[:HEADER_DIGITS]!r}")
    length = int(text)
    if length > len(body):
        raise BadTensor(
            f"Inference-Header-Content-Length says the JSON takes {length:,} bytes, but the body has {len(body):,}"
        )
    return body[:length], memoryview(body)[length:]


def json_fits(text: bytes, max_batch: int) -> None:
    """Refuse, before parsing, JSON that holds more numbers or deeper nesting than the largest
    request could need: parsing 2 million numbers or 700,000 nested lists costs seconds of CPU
    (docs/RELIABILITY.md), so the bound must hold before the parser runs, at C speed."""
    numbers, lists = max_batch * PIXELS, max_batch * (IMAGE_SHAPE[0] + 2)  # [N, 1, 28, 28] nests deepest
    if text.count(b",") > numbers + JSON_SLACK or text.count(b"[") > lists + JSON_SLACK:
        raise BadTensor(
            f"the request's JSON holds more values or lists than {max_batch} images of 28x28 could need; "
            "send at most that many, flat or nested as the shape"
        )


def images_of(req: InferRequest, binary: memoryview, max_batch: int) -> np.ndarray:
    """The request's input as (N, 28, 28) float images in [0, 1] (checked by the network)."""
    if len(req.inputs) != 1 or req.inputs[0].name != INPUT:
        names = ", ".join(repr(i.name[:20]) for i in req.inputs[:3])
        raise BadTensor(f"the model takes one input, {INPUT!r}; got {names}")
    tensor = req.inputs[0]
    if tensor.datatype not in INPUT_DATATYPES:
        raise BadTensor(f"input {INPUT!r} must be one of {', '.join(INPUT_DATATYPES)}, got {tensor.datatype[:16]!r}")
    n = batch_size(tensor.shape, max_batch)
    dtype = DATATYPES[tensor.datatype]
    size = tensor.parameters.binary_data_size if tensor.parameters is not None else None
    if size is not None:
        values = binary_values(tensor, size, n * PIXELS * dtype.itemsize, binary)
    else:
        if len(binary):
            raise BadTensor(f"{len(binary):,} bytes follow the JSON, but no input has binary_data_size")
        values = json_values(tensor, n * PIXELS)
    images = values.reshape(n, *IMAGE_SHAPE)
    if tensor.datatype == "UINT8":
        return images.astype(np.float32) / np.float32(255)
    return images


def batch_size(shape: list[int], max_batch: int) -> int:
    if len(shape) < 2 or tuple(shape[1:]) not in IMAGE_SHAPES:
        raise BadTensor(f"input {INPUT!r} must have shape [N, 28, 28], [N, 784] or [N, 1, 28, 28], got {shape[:8]}")
    if not 1 <= shape[0] <= max_batch:
        raise BadTensor(f"a request may hold 1 to {max_batch} images, got {shape[0]:,}")
    return shape[0]


def binary_values(tensor: RequestInput, size: int, expected: int, binary: memoryview) -> np.ndarray:
    if tensor.data is not None:
        raise BadTensor(f"input {INPUT!r} has both data and binary_data_size; send one of them")
    if size != expected:
        raise BadTensor(
            f"input {INPUT!r} of shape {tensor.shape} and datatype {tensor.datatype} takes {expected:,} bytes, "
            f"but binary_data_size says {size:,}"
        )
    if len(binary) != size:
        raise BadTensor(f"binary_data_size says {size:,} bytes follow the JSON, but {len(binary):,} do")
    dtype = DATATYPES[tensor.datatype]
    return np.frombuffer(binary, dtype=dtype)  # a view: nothing is copied


def json_values(tensor: RequestInput, count: int) -> np.ndarray:
    if tensor.data is None:
        raise BadTensor(f"input {INPUT!r} has no data; give data, or binary_data_size and the bytes after the JSON")
    try:
        values = np.asarray(tensor.data)
    except (ValueError, TypeError, OverflowError):  # ragged nesting, or numbers too large for any dtype
        raise BadTensor(f"input {INPUT!r}: data must be numbers, flat or nested as the shape") from None
    if values.dtype.kind not in "fiu":  # strings, booleans, objects: not the protocol's numbers
        raise BadTensor(f"input {INPUT!r}: data must be numbers, flat or nested as the shape")
    if values.size != count:
        raise BadTensor(f"input {INPUT!r}: shape {tensor.shape} takes {count:,} values, data holds {values.size:,}")
    values = values.reshape(-1)
    if tensor.datatype == "UINT8":
        if values.dtype.kind == "f" or values.min() < 0 or values.max() > 255:
            raise BadTensor(f"input {INPUT!r} of datatype UINT8 takes whole numbers from 0 to 255")
        return values.astype(np.uint8)
    return values.astype(DATATYPES[tensor.datatype], copy=False)


def wanted(req: InferRequest) -> list[Wanted]:
    """The outputs asked for, in order; all of them when none is named."""
    default = bool(req.parameters is not None and req.parameters.binary_data_output)
    if not req.outputs:
        return [Wanted(name, default) for name in OUTPUTS]
    seen: list[Wanted] = []
    for output in req.outputs:
        if output.name not in OUTPUTS:
            raise BadTensor(f"unknown output {output.name[:20]!r}; the model answers {', '.join(OUTPUTS)}")
        if any(w.name == output.name for w in seen):
            raise BadTensor(f"output {output.name!r} is asked for twice")
        parameters = output.parameters
        if parameters is not None and parameters.classification is not None:
            raise BadTensor("the classification extension is not supported; ask for 'label' or 'probabilities'")
        binary = parameters.binary_data if parameters is not None and parameters.binary_data is not None else default
        seen.append(Wanted(output.name, binary))
    return seen


def json_maps_fit(req: InferRequest, outputs: list[Wanted], limit: int) -> None:
    """Feature maps as JSON text take about 39 KB an image (256 images: a 9.9 MB answer and seconds of
    encoding), as binary data a third of that: past `limit` images (CNN_MAX_JSON_MAP_IMAGES) a
    request must ask for them as binary data, as tritonclient does by default. Refused before any work."""
    as_json = [w.name for w in outputs if w.name in FEATURE_MAPS and not w.binary]
    images = req.inputs[0].shape[0] if len(req.inputs) == 1 and req.inputs[0].shape else 0
    if as_json and images > limit:
        raise BadTensor(
            f"feature maps ({', '.join(as_json)}) come as JSON for at most {limit} images a request, and this one "
            f"has {images:,}: ask for them as binary data (parameters binary_data_output: true, or binary_data: "
            "true on each output), name only the outputs you need (such as label and probabilities), "
            "or send fewer images"
        )


def encode(head: dict[str, Any], arrays: dict[str, np.ndarray], outputs: list[Wanted]) -> tuple[bytes, int | None]:
    """The answer's body and, when some output is binary, the length of its JSON part."""
    described, blobs = [], []
    for w in outputs:
        datatype, _ = OUTPUTS[w.name]
        array = arrays[w.name].astype(DATATYPES[datatype], copy=False)
        tensor: dict[str, Any] = {"name": w.name, "datatype": datatype, "shape": list(array.shape)}
        if w.binary:
            blob = array.tobytes()
            tensor["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            tensor["data"] = array.ravel().tolist()
        described.append(tensor)
    header = to_json({**head, "outputs": described})
    if not blobs:
        return header, None
    return b"".join([header, *blobs]), len(header)
