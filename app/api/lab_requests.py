"""The lab's request models (/explain, /teach, /check, /equation, /nudge, /train): a drawing and a
digit, and what each of them asks of the network (a step size, an index, a recipe), beside
lab_responses.py's answers. The drawing itself is read as /predict's (requests.py).
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, Strict, model_validator

from model.architecture import GRADIENTS
from model.lab.check import EPSILON
from model.lab.equations import BY_NAME as EQUATION_KINDS
from model.lab.equations import shape_of as equation_shape
from model.lab.nudge import MAX_STEPS as MAX_NUDGE_STEPS
from model.training.recipes import RecipeName

from .conversions import MapsEncoding
from .requests import ENCODING_HELP, EXAMPLE_GRID, DrawingRequest, Flushed, RequestBody, body_config
from .training import MAX_TRAIN_IMAGES, RESUME_MAX_LENGTH


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
