"""Request and response models: the only place where JSON meets arrays."""

from __future__ import annotations

import base64
import binascii
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
from pydantic_core import ErrorDetails

from model.architecture import FEATURE_MAPS, GRADIENTS, LAYERS, NUM_PARAMS, PARAM_SHAPES
from model.check import EPSILON
from model.equations import SHAPES as EQUATION_SHAPES
from model.floats import flush
from model.network import Params
from model.nudge import MAX_STEPS as MAX_NUDGE_STEPS
from model.recipes import ARTICLE_SMALL_RUN, ARTICLE_SMALL_RUN_LOSS, RECIPES, RecipeName

from .client_params import ENCODED_LENGTH, decode_params
from .errors import NotFinite, clip
from .preprocessing import MAX_DRAWING_SIDE, Reading
from .service import Explanation, Prediction
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
MAP_DECIMALS = 5  # feature maps are for looking at: 5 decimals keep the answers small
MapsEncoding = Literal["json", "float16"]

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


class Float16Array(BaseModel):
    shape: list[int]
    float16: str = Field(description="base64 of the values as little-endian IEEE 754 half floats, row-major")


HALF_MAX = 65504.0  # the largest finite half float


class EncodedArray(BaseModel):
    """An array in an answer, compact: half floats, or single floats where a value lies beyond ±65504
    (half floats would turn it into infinity)."""

    shape: list[int]
    float16: str | None = Field(
        None, description="base64 of the values as little-endian IEEE 754 half floats, row-major"
    )
    float32: str | None = Field(
        None,
        description="instead of float16 where some |value| > 65504: base64 of "
        "little-endian IEEE 754 single floats, row-major",
    )


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
    return check_pixels(np.array(rows, dtype=np.float64), what)


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
        return flush(grid)  # a subnormal pixel would cost 10x in the network (model/floats.py)
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
    image: Float16Image, *, exact_28: bool, what: str = "image", side: int = MAX_DRAWING_SIDE
) -> np.ndarray:
    """A {shape, float16} image -> a (H, W) float array, or ValueError saying what is wrong with it."""
    if len(image.shape) != 2 or min(image.shape) < 1:
        raise ValueError(f"{what}.shape must be [rows, columns], two whole numbers of at least 1; got {image.shape}")
    height, width = image.shape
    check_size(height, width, exact_28=exact_28, what=what, side=side)
    try:
        raw = base64.b64decode(image.float16, validate=True)
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
        "float32, row-major, as /teach answers them (see app/client_params.py)",
        max_length=ENCODED_LENGTH + 8,
    ),
]
ENCODING_HELP = (
    'how feature maps and input are sent: "json", nested lists of numbers; "float16", a compact '
    "{shape, float16} object per array, its data base64 of little-endian IEEE half floats (much cheaper "
    "to make, half the bytes)"
)


ENCODED_IMAGE_LIMIT = 4 * (2 * MAX_DRAWING_SIDE**2 + 2) // 3  # base64 characters of the largest drawing


class Float16Image(RequestBody, Float16Array):
    shape: list[Annotated[int, Strict()]] = Field(description="[rows, columns]", fail_fast=True)
    float16: str = Field(
        description="base64 of the pixels as little-endian IEEE 754 half floats, row by row",
        max_length=ENCODED_IMAGE_LIMIT,
    )


IMAGE_FORMS = ("rows", "encoded")  # the tags of Image's two forms; error messages leave them out


# The image as rows of JSON numbers, or as {shape, float16}: the same pixels in half the bytes, and
# about a tenth of the time to read (no Python number is made per pixel). Pydantic tries the forms in
# turn, straight from the JSON text; a callable discriminator would first build the whole body as
# Python objects, which cost more than the network's answer (BENCHMARKS.md). the_chosen_form then
# keeps only the errors of the form the client chose, so that a mistake is explained in its terms.
Image = Annotated[
    Annotated[Grid, Tag("rows")] | Annotated[Float16Image, Tag("encoded")],
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


def the_chosen_form(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """An Image's errors, without those of the form the client did not use.

    Where the image is an object, its "rows" form fails with one error at its root, that it is not
    an array; where it is an array, its "encoded" form fails with one, that it is not an object.
    Where it is neither, the "rows" error stays: rows of numbers are what a person would send.
    One pass over the errors, however many a large drawing makes.
    """
    forms: dict[tuple[Any, ...], dict[Any, list[ErrorDetails]]] = {}  # where an image is -> form -> errors
    for error in errors:
        loc = tuple(error["loc"])
        at = next((i for i, part in enumerate(loc) if part in IMAGE_FORMS), None)
        if at is not None:
            forms.setdefault(loc[:at], {}).setdefault(loc[at], []).append(error)

    def only_not_a(where: tuple[Any, ...], form: str, kind: str) -> bool:
        branch = forms[where].get(form, [])
        return len(branch) == 1 and tuple(branch[0]["loc"]) == (*where, form) and branch[0]["type"] == kind

    unused = set()
    for where in forms:
        if only_not_a(where, "encoded", "model_type"):
            unused.add((*where, "encoded"))
        elif only_not_a(where, "rows", "list_type"):
            unused.add((*where, "rows"))
    return [e for e in errors if not any(tuple(e["loc"][: len(u)]) == u for u in unused)]


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
            self._grid = float16_to_array(self.image, exact_28=not self.normalize, side=max_side(info))
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


class ExplainRequest(DrawingRequest):
    model_config = body_config(examples=[{"image": EXAMPLE_GRID, "label": 7}])

    label: Annotated[int, Strict(), Field(ge=0, le=9)] = Field(
        description="the digit to blame: the gradients are of L = -ln O_label"
    )
    maps_encoding: MapsEncoding = Field("float16", description=ENCODING_HELP + "; float16 by default here")


class TeachRequest(ExplainRequest):
    model_config = body_config(examples=[{"image": EXAMPLE_GRID, "label": 7, "lr": 0.1}])

    lr: Annotated[float, Strict(), Field(gt=0, le=10), Flushed] = Field(0.1, description="eta of eq. (66)")


GradientName = Literal[
    "dLS", "dLb", "dLw", "dLf", "dLP2", "dLC2", "dLS2", "dLb2", "dLk2", "dLP1", "dLC1", "dLS1", "dLb1", "dLk1", "dLI"
]
assert set(get_args(GradientName)) == {g.name for g in GRADIENTS}


class CheckRequest(ExplainRequest):
    model_config = body_config(examples=[{"image": EXAMPLE_GRID, "label": 7, "gradient": "dLk1", "index": [0, 2, 3]}])

    gradient: GradientName = Field(description="any gradient /explain returns, dLI (the image's) included")
    index: list[Annotated[int, Strict()]] = Field(
        max_length=4, description="the entry, one index per axis of the gradient's shape (GET /model)"
    )
    epsilon: Annotated[float, Strict(), Field(ge=1e-8, le=1e-2, allow_inf_nan=False)] = Field(
        EPSILON, description="the nudge ε of (L(x + ε) - L(x - ε)) / 2ε"
    )

    @model_validator(mode="after")
    def _index_fits(self) -> CheckRequest:
        shape = next(g.shape for g in GRADIENTS if g.name == self.gradient)
        if len(self.index) != len(shape) or not all(0 <= i < n for i, n in zip(self.index, shape, strict=False)):
            raise ValueError(
                f"index {self.index} is not an entry of {self.gradient}, whose shape is {list(shape)}: "
                f"give {len(shape)} indices, each from 0 to its axis's length - 1"
            )
        return self


class CheckResponse(BaseModel):
    gradient: str
    index: list[int]
    epsilon: float
    analytic: float = Field(description="backpropagation's value of this entry, in float64")
    numerical: float = Field(description="(L(x + ε) - L(x - ε)) / 2ε, in float64")
    relative_error: float = Field(description="|numerical - analytic| / max(|numerical|, |analytic|)")
    left: float = Field(description="(L(x) - L(x - ε)) / ε")
    right: float = Field(description="(L(x + ε) - L(x)) / ε")
    kink: bool = Field(description="the slopes either side differ: the loss has a corner at this point")
    agrees: bool = Field(description="within 1e-6 relative, or within what float64 resolves at this ε")
    why: str = Field(description="one sentence on why they agree, or why not here")


class EquationRequest(ExplainRequest):
    model_config = body_config(examples=[{"image": EXAMPLE_GRID, "label": 7, "kind": "S1", "index": [0, 10, 12]}])

    kind: Literal["S1", "P1", "O", "L", "dLS", "dLC2", "dLk1"] = Field(
        description="eq. (1) S1, (2) P1, (5) O, (6) L, (23) dLS, (43) dLC2 (the routing of one dLP2), (65) dLk1"
    )
    index: list[Annotated[int, Strict()]] = Field(
        default_factory=list,
        max_length=3,
        description="the cell: (p, i, j) for S1 and P1, (j) for O and dLS, "
        "(m, x, y) of P2 for dLC2, (p, u, v) for dLk1, none for L",
    )

    @model_validator(mode="after")
    def _index_fits(self) -> EquationRequest:
        shape = EQUATION_SHAPES[self.kind]
        if len(self.index) != len(shape) or not all(0 <= i < n for i, n in zip(self.index, shape, strict=False)):
            raise ValueError(
                f"index {self.index} is not a cell of {self.kind}, whose shape is {list(shape)}: give "
                f"{len(shape)} indices, each from 0 to its axis's length - 1"
            )
        return self


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


class NudgeResponse(BaseModel):
    image: list[list[float]] = Field(description="the final 28x28 grid")
    label: int = Field(description="what the network reads on it")
    target: int
    steps: int = Field(description="steps taken")
    reached: bool = Field(description="the target won")
    probabilities: list[float] = Field(description="O on the final grid (the article's softmax)")
    l2: float = Field(description="how far the picture moved: the L2 norm of the change")
    largest_change: float = Field(description="the largest change of one pixel")
    frames: EncodedArray = Field(description="the grid before each step and the last, float16, for animation")
    target_probability: list[float] = Field(description="O_target on each frame")


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


class TrainResponse(BaseModel):
    recipe: RecipeName
    seed: int
    step: int = Field(description="steps taken in the run so far")
    epoch: float = Field(description="epochs of the 10,000 training images so far (step / steps per epoch)")
    steps_per_epoch: int
    lr: float = Field(description="the learning rate of the last step")
    losses: list[float] = Field(description="the mean loss of each step taken now, in order")
    heldout_accuracy: float = Field(description="accuracy on the 1,000 held-out test images, a fraction in [0, 1]")
    heldout_loss: float = Field(description="mean cross-entropy on the same images")
    resume: str = Field(description="the run's state (parameters, optimiser, position): post it back to go on")
    params: str = Field(
        description="the network as it is now, encoded like /teach's params, for /predict, /explain and "
        "/teach (the recipe's input scaling folded into b1, so drawings in [0, 1] go in as they are)"
    )


class ExplainResponse(BaseModel):
    label: int = Field(description="the digit blamed")
    loss: float = Field(description="L = -ln O_label")
    probabilities: list[float] = Field(description="the article's O = softmax(S) (uncalibrated)")
    input: list[list[float]] | EncodedArray
    gradients: dict[str, list[Any] | float | EncodedArray] = Field(
        description="every gradient the article names, for this one image: "
        + "; ".join(f"{g.name} (eq. {g.equation}) {g.meaning}" for g in GRADIENTS)
    )
    norms: dict[str, float] = Field(description="the Euclidean norm of each gradient")
    equations: dict[str, str] = Field(description="the article's equation number of each gradient")

    @staticmethod
    def content(e: Explanation, encoding: MapsEncoding) -> dict[str, Any]:
        arrays = {}
        for g in GRADIENTS:  # one image's gradients; the parameters' ones as they are
            a = np.asarray(getattr(e.backward, g.name))
            arrays[g.name] = a[0] if a.ndim == len(g.shape) + 1 else a
        return {
            "label": e.label,
            "loss": e.loss,
            "probabilities": e.probabilities.tolist(),
            "input": encode(e.input, encoding),
            "gradients": {k: encode(np.asarray(v), encoding, decimals=None) for k, v in arrays.items()},
            "norms": {k: float(np.linalg.norm(np.asarray(v, dtype=np.float64))) for k, v in arrays.items()},
            "equations": {g.name: g.equation for g in GRADIENTS},
        }


class TeachResponse(BaseModel):
    params: str = Field(description="the parameters after one step, encoded like the request's params")
    label: int
    lr: float
    loss_before: float
    loss_after: float
    probabilities_before: list[float] = Field(description="O before the step (uncalibrated)")
    probabilities_after: list[float] = Field(description="O after the step (uncalibrated)")


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


def encode(a: np.ndarray, encoding: MapsEncoding, decimals: int | None = MAP_DECIMALS) -> Any:
    """An array as the client asked for it: nested lists (rounded to decimals, if given), or a compact
    EncodedArray. Never NaN or infinity: an answer holding one is refused (NotFinite)."""
    largest = float(np.abs(a).max(initial=0.0))
    if not largest <= np.finfo(np.float32).max:  # NaN and infinity too
        raise NotFinite("the network's numbers overflow with these parameters; send smaller parameters")
    if encoding == "float16":
        if largest <= HALF_MAX:
            return {"shape": list(a.shape), "float16": base64.b64encode(a.astype("<f2").tobytes()).decode()}
        return {"shape": list(a.shape), "float32": base64.b64encode(a.astype("<f4").tobytes()).decode()}
    values = a.astype(np.float64)
    return (values if decimals is None else np.round(values, decimals)).tolist()


def about(name: str) -> str:
    layer = next(layer for layer in LAYERS if layer.name == name)
    return f"{tuple(layer.shape)} after {layer.what}" + (f", eq. ({layer.equation})" if layer.equation else "")


class FeatureMaps(BaseModel):  # one field per FEATURE_MAPS, each described by model/architecture.py
    C1: list[list[list[float]]] | EncodedArray = Field(description=about("C1"))
    P1: list[list[list[float]]] | EncodedArray = Field(description=about("P1"))
    C2: list[list[list[float]]] | EncodedArray = Field(description=about("C2"))
    P2: list[list[list[float]]] | EncodedArray = Field(description=about("P2"))
    S: list[float] | EncodedArray = Field(description=about("S"))


assert tuple(FeatureMaps.model_fields) == FEATURE_MAPS


MAX_DROPPED_LISTED = 16  # a dusty photo has hundreds of specks: the answer names the heaviest


class DroppedMark(BaseModel):
    kind: Literal["line", "mark"] = Field(
        description='"line": a ruled line or a page edge; "mark": a speck, a stray stroke, a shadow\'s corner'
    )
    box: tuple[int, int, int, int] = Field(
        description="(left, top, right, bottom) in the picture's pixels, upright; right and bottom excluded"
    )
    share: float = Field(description="its share of all the ink found on the picture")


class ImageReading(BaseModel):
    """How the digit was found on an uploaded picture (POST /predict/image)."""

    photo: bool = Field(description="the border was not one flat colour: read as a photo of paper")
    light_on_dark: bool = Field(description="light ink on a dark ground (the picture was read inverted)")
    uneven_light: float = Field(
        description="how much the paper's lightness varies across the picture (0: even light, 1: black to white)"
    )
    dropped: list[DroppedMark] = Field(
        description=f"marks that are not the digit, heaviest first (at most {MAX_DROPPED_LISTED})"
    )
    dropped_count: int = Field(description="how many marks were dropped in all")

    @staticmethod
    def content(r: Reading) -> dict[str, Any]:
        return {
            "photo": r.paper.photo,
            "light_on_dark": r.paper.light_on_dark,
            "uneven_light": round(r.paper.uneven, 3),
            "dropped": [
                {"kind": m.kind, "box": list(m.box), "share": round(m.share, 4)} for m in r.dropped[:MAX_DROPPED_LISTED]
            ],
            "dropped_count": len(r.dropped),
        }


class PredictResponse(BaseModel):
    # Its example is the served network's own answer to EXAMPLE_GRID, put into the OpenAPI document by app/main.py.

    label: int = Field(description="the most probable digit")
    probabilities: list[float] = Field(
        description="softmax(S / T), calibrated on validation data: 10 numbers summing to 1 (T in GET /model)"
    )
    unsure: bool = Field(
        False,
        description="true when the top probability is below the threshold chosen on "
        "validation data (GET /model): a guess, not an answer",
    )
    feature_maps: FeatureMaps | None = Field(None, description="with feature_maps=true")
    input: list[list[float]] | EncodedArray | None = Field(
        None, description="the 28x28 grid the network saw; with feature_maps=true or after normalisation"
    )
    reading: ImageReading | None = Field(None, description="POST /predict/image: how the digit was found")

    @staticmethod
    def content(p: Prediction, *, with_input: bool, encoding: MapsEncoding = "json") -> dict[str, Any]:
        """The response as plain JSON-ready data, built without a second validation (the hot path)."""
        out: dict[str, Any] = {
            "label": p.label,
            "probabilities": p.probabilities.astype(np.float64).tolist(),
            "unsure": p.unsure,
        }
        if p.maps is not None:
            out["feature_maps"] = {k: encode(v, encoding) for k, v in p.maps.items()}
        if with_input:
            out["input"] = encode(p.input, encoding)
        if p.reading is not None:
            out["reading"] = ImageReading.content(p.reading)
        return out

    @classmethod
    def of(cls, p: Prediction, *, with_input: bool, encoding: MapsEncoding = "json") -> PredictResponse:
        return cls.model_validate(cls.content(p, with_input=with_input, encoding=encoding))


class BatchItem(BaseModel):
    label: int
    probabilities: list[float]
    unsure: bool = False


class BatchResponse(BaseModel):
    # Its example is the served network's own answer, put into the OpenAPI document by app/main.py.

    predictions: list[BatchItem]


class LayerInfo(BaseModel):
    name: str = Field(description="the article's symbol for the layer's output")
    what: str
    shape: list[int] = Field(description="of one image's output")
    equation: str = Field(description="the article's equation number, empty where it has none")


class GradientInfo(BaseModel):
    name: str
    equation: str
    shape: list[int] = Field(description="for one image, or the parameter's shape")
    meaning: str


class RecipeInfo(BaseModel):
    name: str
    batch_size: int = Field(description="images a step")
    epochs: int = Field(description="the length of the run the recipe is made for")


class TrainingInfo(BaseModel):
    """What the page needs to know about POST /train and the visitor's copies, so it writes none of it down."""

    recipes: list[RecipeInfo]
    max_images: int = Field(description="images a /train request may take, over all its steps")
    article_log: dict[str, list[list[float]]] = Field(
        description="the article's companion code's small run, by epoch: held-out accuracy and loss"
    )
    params_length: int = Field(description="base64 characters of a visitor's parameters (float32)")

    @classmethod
    def now(cls) -> TrainingInfo:
        return cls(
            recipes=[RecipeInfo(name=r.name, batch_size=r.batch_size, epochs=r.epochs) for r in RECIPES.values()],
            max_images=MAX_TRAIN_IMAGES,
            article_log={
                "accuracy": [[e, a] for e, a in sorted(ARTICLE_SMALL_RUN.items())],
                "loss": [[e, loss] for e, loss in sorted(ARTICLE_SMALL_RUN_LOSS.items())],
            },
            params_length=ENCODED_LENGTH,
        )


class ModelInfo(BaseModel):
    # Its example is the served network's own answer, put into the OpenAPI document by app/main.py.
    architecture: list[str]
    layers: list[LayerInfo] = Field(description="the forward pass, in order (model/architecture.py)")
    gradients: list[GradientInfo] = Field(description="backpropagation's gradients, in the order it computes them")
    feature_maps: list[str] = Field(description="the layers /predict returns with feature_maps=true")
    parameters: int
    param_shapes: dict[str, list[int]]
    sha256: str
    weights_file: str
    max_batch: int
    max_body_bytes: int
    metadata: dict[str, Any] = Field(description="how the weights were made: test accuracy, settings, date...")
    training: TrainingInfo = Field(description="the recipes and limits of POST /train and of a visitor's copies")
    collecting: bool = Field(
        description="whether POST /drawings saves drawings for the class (CNN_TEACHER_TOKEN is set); "
        "false: every /drawings endpoint answers 404, and the page offers no saving"
    )

    @classmethod
    def of(
        cls, metadata: dict[str, Any], weights_file: str, max_batch: int, max_body_bytes: int, *, collecting: bool
    ) -> ModelInfo:
        return cls(
            architecture=metadata["architecture"]["layers"],
            layers=[LayerInfo(**layer._asdict()) for layer in LAYERS],
            gradients=[GradientInfo(**g._asdict()) for g in GRADIENTS],
            feature_maps=list(FEATURE_MAPS),
            parameters=NUM_PARAMS,
            param_shapes={k: list(v) for k, v in PARAM_SHAPES.items()},
            sha256=metadata["sha256"],
            weights_file=weights_file,
            max_batch=max_batch,
            max_body_bytes=max_body_bytes,
            metadata={k: v for k, v in metadata.items() if k not in ("architecture", "sha256")},
            training=TrainingInfo.now(),
            collecting=collecting,
        )


class Kernels(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"k1": [[[0.1] * 5] * 5] * 6, "b1": [0.0] * 6, "k2": [[[[0.1] * 5] * 5] * 6] * 12, "b2": [0.0] * 12}
            ]
        }
    )

    k1: list[list[list[float]]] = Field(description="(6, 5, 5) the first layer's kernels")
    b1: list[float]
    k2: list[list[list[list[float]]]] = Field(description="(12, 6, 5, 5)")
    b2: list[float]


class Health(BaseModel):
    # Its example carries the served weights' SHA-256, put into the OpenAPI document by app/main.py.
    status: str
    model_loaded: bool
    sha256: str


class ErrorResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"detail": "image must be 28 rows of 28 numbers, got 27 rows of 28"}]}
    )

    detail: str
