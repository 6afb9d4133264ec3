"""Request models: each endpoint's JSON body, validated straight from its text into arrays.

A mistake is refused with one sentence naming it (app/transport/errors.py shapes it); the arrays a request
holds are checked here (grid_to_array, float16_to_array), and reach the handler as NumPy arrays. The
lab's requests, which carry a drawing too, are lab_requests.py's.
"""

from __future__ import annotations

import base64
import binascii
from itertools import chain
from typing import Annotated, Any

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)

from app.pictures.preprocessing import MAX_DRAWING_SIDE
from app.transport.errors import IMAGE_FORMS, clip
from model.codec import ENCODED_LENGTH, decode_params
from model.floats import TINY, flush
from model.network import Params

from .conversions import MapsEncoding

# JSON numbers only: no strings, no booleans. The schema documents the range; grid_to_array checks
# it (and the shape), so that a mistake gets one sentence naming the row and column, not 784 errors.
# fail_fast (here and on every list a request holds): the first value that is not a number ends
# the reading. Without it, a drawing of a million strings kept the worker busy for seconds collecting
# a million errors.
Number = Annotated[float, Strict(), WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1})]
ROW_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_DRAWING_SIDE,
    "items": {"type": "number", "minimum": 0, "maximum": 1},
}
Row = Annotated[list[Number], Field(fail_fast=True), WithJsonSchema(ROW_SCHEMA)]
GRID_SCHEMA: dict[str, Any] = {"type": "array", "minItems": 1, "maxItems": MAX_DRAWING_SIDE, "items": ROW_SCHEMA}
Grid = Annotated[list[Row], Field(fail_fast=True), WithJsonSchema(GRID_SCHEMA)]
Flushed = AfterValidator(flush)  # a subnormal step size counts as 0: it would cost 10x (model/floats.py)

EXAMPLE_GRID: Any = (
    [[0.0] * 28 for _ in range(4)]
    + [[0.0] * 13 + [1.0] * 2 + [0.0] * 13 for _ in range(20)]
    + [[0.0] * 28 for _ in range(4)]
)  # a "1"


def body_config(**schema_extra: Any) -> ConfigDict:
    """A request model's config: unknown fields kept aside (see RequestBody), and documented as refused."""
    return ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False, **schema_extra})


class RequestBody(BaseModel):
    """A request's JSON object: unknown fields are one error, not one per field.

    With extra="forbid" pydantic makes an error object per unknown key; kept aside ("allow") they
    cost a fraction of that, and the first one names the mistake (docs/RELIABILITY.md has the figures).
    """

    model_config = body_config()

    @model_validator(mode="after")
    def _no_unknown_fields(self) -> RequestBody:
        if self.__pydantic_extra__:
            unknown = next(iter(self.__pydantic_extra__))
            known = ", ".join(type(self).model_fields)
            raise ValueError(f"unknown field {clip(unknown)!r}; the fields are {known}")
        return self


def max_side(info: ValidationInfo) -> int:
    """The largest drawing this service takes (Settings.max_drawing_side, passed as validation context)."""
    return int((info.context or {}).get("max_drawing_side", MAX_DRAWING_SIDE))


def grid_to_array(
    rows: list[list[float]], *, exact_28: bool, what: str = "image", side: int = MAX_DRAWING_SIDE
) -> np.ndarray:
    """Rows of numbers -> a (H, W) float array, or ValueError saying what is wrong with it.

    Every request passes through here, so the common case costs three C-speed passes (lengths,
    copy, min and max) and the loops that name the offending row or pixel run only on errors.
    """
    if not rows or not rows[0]:
        raise ValueError(f"{what} is empty; send rows of numbers in [0, 1]")
    height, width = len(rows), len(rows[0])
    if len(set(map(len, rows))) > 1:
        r, row = next((r, row) for r, row in enumerate(rows) if len(row) != width)
        raise ValueError(f"{what} row {r} has {len(row)} numbers but row 0 has {width}; rows must be equally long")
    check_size(height, width, exact_28=exact_28, what=what, side=side)
    # The rows laid end to end into an array of known size: np.array would first walk the nested
    # lists to discover their shape, a quarter of the conversion's time (profiled, issue 34).
    grid = np.fromiter(chain.from_iterable(rows), np.float64, height * width).reshape(height, width)
    return check_pixels(grid, what)


def check_size(height: int, width: int, *, exact_28: bool, what: str, side: int = MAX_DRAWING_SIDE) -> None:
    if exact_28 and (height, width) != (28, 28):
        raise ValueError(
            f"{what} must be 28 rows of 28 numbers, got {height} rows of {width} "
            '(send "normalize": true to have a drawing of another size normalised)'
        )
    if max(height, width) > side:
        raise ValueError(f"{what} is {height}x{width}; at most {side} rows and columns")


def check_pixels(grid: np.ndarray, what: str) -> np.ndarray:
    """grid itself if every value is a finite number in [0, 1], else ValueError naming the first that is not."""
    if grid.min() >= 0 and grid.max() <= 1:  # false for NaN too: min and max pass it on
        # A subnormal pixel would cost 10x in the network (model/floats.py). In [0, 1], one comparison
        # finds them with the zeros: two NumPy calls, where flush's general case takes three or four,
        # and each costs microseconds on a request's cold cache (the figures: BENCHMARKS.md).
        return np.where(grid < TINY, 0.0, grid)
    bad = ~np.isfinite(grid)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"{what} holds {grid[r, c]} at row {r}, column {c}; values must be finite numbers")
    r, c = np.argwhere((grid < 0) | (grid > 1))[0]
    hint = " (divide 0..255 pixels by 255)" if grid.max() > 1 else ""
    raise ValueError(
        f"{what} holds {grid[r, c]:g} at row {r}, column {c}; values must lie in [0, 1], "
        f"0 = background and 1 = ink{hint}"
    )


def float16_to_array(
    shape: list[int], text: str, *, exact_28: bool, what: str = "image", side: int = MAX_DRAWING_SIDE
) -> np.ndarray:
    """A {shape, float16} image -> a (H, W) float array, or ValueError saying what is wrong with it."""
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"{what}.shape must be [rows, columns], two whole numbers of at least 1; got {shape}")
    height, width = shape
    check_size(height, width, exact_28=exact_28, what=what, side=side)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what}.float16 is not valid base64") from None
    if len(raw) != 2 * height * width:
        raise ValueError(
            f"{what}.float16 holds {len(raw)} bytes; a {height}x{width} image of half floats needs {2 * height * width}"
        )
    return check_pixels(np.frombuffer(raw, "<f2").astype(np.float64).reshape(height, width), what)


ParamsText = Annotated[
    str,
    Field(
        description="a visitor's own parameters: base64 of the 3,898 numbers k1 b1 k2 b2 w b as little-endian "
        "float32, row-major, as /teach answers them (see model/codec.py)",
        max_length=ENCODED_LENGTH + 8,
    ),
]
ENCODING_HELP = (
    'how feature maps and input are sent: "json", nested lists of numbers; "float16", a compact '
    "{shape, float16} object per array, its data base64 of little-endian IEEE half floats (much cheaper "
    'to make, half the bytes); "float32", the same object with the network\'s float32 numbers exactly'
)


ENCODED_IMAGE_LIMIT = 4 * (2 * MAX_DRAWING_SIDE**2 + 2) // 3  # base64 characters of the largest drawing


class Float16Image(RequestBody):
    shape: list[Annotated[int, Strict()]] = Field(description="[rows, columns]", fail_fast=True)
    float16: str = Field(
        description="base64 of the pixels as little-endian IEEE 754 half floats, row by row",
        max_length=ENCODED_IMAGE_LIMIT,
    )


# The image as rows of JSON numbers, or as {shape, float16}: the same pixels in half the bytes, and
# about a tenth of the time to read (no Python number is made per pixel). Pydantic tries the forms in
# turn, straight from the JSON text; a callable discriminator would first build the whole body as
# Python objects, which cost more than the network's answer (BENCHMARKS.md). the_chosen_form then
# keeps only the errors of the form the client chose, so that a mistake is explained in its terms.
Image = Annotated[
    Annotated[Grid, Tag(IMAGE_FORMS[0])] | Annotated[Float16Image, Tag(IMAGE_FORMS[1])],
    Field(union_mode="left_to_right"),
    WithJsonSchema(
        {
            "anyOf": [
                GRID_SCHEMA,
                {  # the two forms, inline: an array or an object
                    "type": "object",
                    "required": ["shape", "float16"],
                    "additionalProperties": False,
                    "properties": {
                        "shape": {
                            "type": "array",
                            "items": {"type": "integer", "minimum": 1},
                            "minItems": 2,
                            "maxItems": 2,
                        },
                        "float16": {"type": "string", "maxLength": ENCODED_IMAGE_LIMIT},
                    },
                },
            ]
        }
    ),
]


class DrawingRequest(RequestBody):
    """What every request about one drawing carries: the grid, whether to normalise it, whose parameters."""

    image: Image = Field(
        description="28 rows of 28 numbers in [0, 1], 0 = background, 1 = ink (as MNIST); any "
        f"size up to {MAX_DRAWING_SIDE}x{MAX_DRAWING_SIDE} with normalize. Or the same "
        'pixels as {"shape": [rows, columns], "float16": base64 of little-endian '
        "half floats}: half the bytes, and much less work for the server"
    )
    normalize: Annotated[bool, Strict()] = Field(
        False, description="first make the drawing MNIST-like: crop, fit into 20x20, centre the mass in 28x28"
    )
    params: ParamsText | None = Field(
        None,
        description="answer with a visitor's own parameters (from /teach) "
        "instead of the shared network's; probabilities are then uncalibrated",
    )

    _grid: np.ndarray = PrivateAttr()
    _params: Params | None = PrivateAttr()

    @model_validator(mode="after")
    def _check_drawing(self, info: ValidationInfo) -> DrawingRequest:
        if isinstance(self.image, Float16Image):
            shape, text = self.image.shape, self.image.float16
            self._grid = float16_to_array(shape, text, exact_28=not self.normalize, side=max_side(info))
        else:
            self._grid = grid_to_array(self.image, exact_28=not self.normalize, side=max_side(info))
        self._params = None if self.params is None else decode_params(self.params)
        return self

    def grid(self) -> np.ndarray:
        return self._grid

    def client_params(self) -> Params | None:
        return self._params


class PredictRequest(DrawingRequest):
    model_config = body_config(examples=[{"image": EXAMPLE_GRID, "feature_maps": False, "normalize": False}])

    feature_maps: Annotated[bool, Strict()] = Field(False, description="also return C1, P1, C2, P2, S and input")
    maps_encoding: MapsEncoding = Field("json", description=ENCODING_HELP)


class BatchRequest(RequestBody):
    model_config = body_config(examples=[{"images": [EXAMPLE_GRID]}])

    images: list[Grid] = Field(description="28x28 grids in [0, 1]; the maximum count is in GET /model", fail_fast=True)
    normalize: Annotated[bool, Strict()] = Field(False, description="normalise each drawing like MNIST first")

    _grids: list[np.ndarray] = PrivateAttr()

    @model_validator(mode="after")
    def _check_grids(self, info: ValidationInfo) -> BatchRequest:
        if not self.images:
            raise ValueError("images is empty; send at least one 28x28 grid")
        self._grids = [
            grid_to_array(g, exact_28=not self.normalize, what=f"images[{i}]", side=max_side(info))
            for i, g in enumerate(self.images)
        ]
        return self

    def grids(self) -> list[np.ndarray]:
        return self._grids
