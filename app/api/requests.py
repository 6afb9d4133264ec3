"""Request models: each endpoint's JSON body, validated straight from its text into arrays.

A mistake is refused with one sentence naming it (app/transport/errors.py shapes it); the arrays a request
holds are checked by app/api/conversions.py, and reach the handler as NumPy arrays.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

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
from model.architecture import GRADIENTS
from model.codec import ENCODED_LENGTH, decode_params
from model.floats import flush
from model.lab.check import EPSILON
from model.lab.equations import BY_NAME as EQUATION_KINDS
from model.lab.equations import shape_of as equation_shape
from model.lab.nudge import MAX_STEPS as MAX_NUDGE_STEPS
from model.network import Params
from model.training.recipes import RecipeName

from .conversions import MapsEncoding, float16_to_array, grid_to_array
from .training import MAX_TRAIN_IMAGES, RESUME_MAX_LENGTH

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


class LabelledDrawing(DrawingRequest):
    """A drawing and a digit: what every request about the loss L = -ln O_label carries."""

    label: Annotated[int, Strict(), Field(ge=0, le=9)] = Field(
        description="the digit to blame: the gradients are of L = -ln O_label"
    )


class ExplainRequest(LabelledDrawing):
    model_config = body_config(examples=[{"image": EXAMPLE_GRID, "label": 7}])

    maps_encoding: MapsEncoding = Field("float16", description=ENCODING_HELP + "; float16 by default here")
    forward: Annotated[bool, Strict()] = Field(
        False, description="also the whole forward pass (S1 ... O) and the parameters of the network that answered"
    )


class TeachRequest(LabelledDrawing):
    model_config = body_config(examples=[{"image": EXAMPLE_GRID, "label": 7, "lr": 0.1}])

    lr: Annotated[float, Strict(), Field(gt=0, le=10), Flushed] = Field(0.1, description="eta of eq. (66)")


class AtOneIndex(LabelledDrawing):
    """A labelled drawing and one entry of an array the request names (each subclass its own `index`)."""

    def indexed(self) -> tuple[list[int], str, tuple[int, ...], str]:
        """(the index, the array's name, its shape, what one entry of it is called)"""
        raise NotImplementedError

    @model_validator(mode="after")
    def _index_fits(self) -> AtOneIndex:
        index, name, shape, entry = self.indexed()
        if len(index) != len(shape) or not all(0 <= i < n for i, n in zip(index, shape, strict=False)):
            raise ValueError(
                f"index {index} is not {entry} of {name}, whose shape is {list(shape)}: give "
                f"{len(shape)} indices, each from 0 to its axis's length - 1"
            )
        return self


GradientName = Literal[
    "dLS", "dLb", "dLw", "dLf", "dLP2", "dLC2", "dLS2", "dLb2", "dLk2", "dLP1", "dLC1", "dLS1", "dLb1", "dLk1", "dLI"
]
assert set(get_args(GradientName)) == {g.name for g in GRADIENTS}


class CheckRequest(AtOneIndex):
    model_config = body_config(examples=[{"image": EXAMPLE_GRID, "label": 7, "gradient": "dLk1", "index": [0, 2, 3]}])

    gradient: GradientName = Field(description="any gradient /explain returns, dLI (the image's) included")
    index: list[Annotated[int, Strict()]] = Field(
        max_length=4, description="the entry, one index per axis of the gradient's shape (GET /model)"
    )
    epsilon: Annotated[float, Strict(), Field(ge=1e-8, le=1e-2, allow_inf_nan=False)] = Field(
        EPSILON, description="the nudge ε of (L(x + ε) - L(x - ε)) / 2ε"
    )

    def indexed(self) -> tuple[list[int], str, tuple[int, ...], str]:
        return self.index, self.gradient, next(g.shape for g in GRADIENTS if g.name == self.gradient), "an entry"


EquationKind = Literal[
    "S1",
    "C1",
    "P1",
    "S2",
    "C2",
    "P2",
    "f",
    "S",
    "O",
    "L",
    "dLS",
    "dLb",
    "dLw",
    "dLf",
    "dLP2",
    "dLC2",
    "dLS2",
    "dLb2",
    "dLk2",
    "dLP1",
    "dLC1",
    "dLS1",
    "dLb1",
    "dLk1",
    "update",
]
assert get_args(EquationKind) == tuple(EQUATION_KINDS)
ParameterName = Literal["k1", "b1", "k2", "b2", "w", "b"]


class EquationRequest(AtOneIndex):
    model_config = body_config(examples=[{"image": EXAMPLE_GRID, "label": 7, "kind": "S1", "index": [0, 10, 12]}])

    kind: EquationKind = Field(
        description="the quantity, as the article names it (GET /model lists each with its shape and equation): "
        "(1) S1 C1, (2) P1, (3) S2 C2, (4) P2, (5) f S O, (6) L, (7)-(23) dLS, (25) dLb, (30) dLw, (38) dLf, "
        "(39) dLP2, (43) dLC2, (45) dLS2, (47) dLb2, (50) dLk2, (56) dLP1, (58) dLC1, (60) dLS1, (62) dLb1, "
        "(65) dLk1, and (66) update: one SGD step on one cell of `parameter`"
    )
    index: list[Annotated[int, Strict()]] = Field(
        default_factory=list,
        max_length=4,
        description="the cell, one index per axis of the quantity's shape (of the parameter's, for update); none for L",
    )
    parameter: ParameterName | None = Field(None, description="update only: the parameter stepped")
    lr: Annotated[float, Strict(), Field(gt=0, le=10, allow_inf_nan=False), Flushed] = Field(
        0.1, description="update only: the learning rate η of eq. (66)"
    )

    def indexed(self) -> tuple[list[int], str, tuple[int, ...], str]:
        if self.kind == "update":
            if self.parameter is None:
                raise ValueError("kind 'update' needs a parameter: one of k1, b1, k2, b2, w, b")
            return self.index, self.parameter, equation_shape(self.kind, self.parameter), "a cell"
        return self.index, self.kind, equation_shape(self.kind), "a cell"


class NudgeRequest(DrawingRequest):
    model_config = body_config(examples=[{"image": EXAMPLE_GRID, "target": 3}])

    target: Annotated[int, Strict(), Field(ge=0, le=9)] = Field(description="the digit to make it")
    step: Annotated[float, Strict(), Field(gt=0, le=10, allow_inf_nan=False), Flushed] = Field(
        0.05, description="η of I <- clip(I - η ∂L/∂I, 0, 1)"
    )
    max_steps: Annotated[int, Strict(), Field(ge=1, le=MAX_NUDGE_STEPS)] = Field(
        MAX_NUDGE_STEPS, description="stop here if the target has not won"
    )
    mode: Literal["any", "add", "remove"] = Field("any", description='"add": only add ink; "remove": only take it away')


class TrainRequest(RequestBody):
    model_config = body_config(
        examples=[
            {"recipe": "article", "seed": 0, "steps": 500},
            {"resume": "<the resume of the last answer>", "steps": 500},
        ]
    )

    recipe: RecipeName | None = Field(
        None,
        description='start a run: "article" (the article\'s own recipe: one image per step, lr 0.005, weights '
        'uniform in (-0.1, 0.1), inputs pixel/255 - 0.5) or "ours" (the committed weights\' recipe on the small '
        "set: batches of 64, momentum 0.9, cosine learning rate from 0.05, He initialisation, augmentation)",
    )
    seed: Annotated[int, Strict(), Field(ge=0, lt=2**32)] = Field(0, description="with recipe: the run's seed")
    resume: str | None = Field(
        None,
        max_length=RESUME_MAX_LENGTH,
        description="continue a run: the `resume` of the previous answer, exactly as it came",
    )
    steps: Annotated[int, Strict(), Field(ge=1)] = Field(
        description=f"steps to take now: at most {MAX_TRAIN_IMAGES} images' worth "
        f"({MAX_TRAIN_IMAGES} steps of the article's recipe, {MAX_TRAIN_IMAGES // 64} of ours)"
    )

    @model_validator(mode="after")
    def _one_way_in(self) -> TrainRequest:
        if (self.recipe is None) == (self.resume is None):
            raise ValueError('send either "recipe" (and "seed") to start a run, or "resume" to continue one')
        return self


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
