"""The lab's response models: /explain, /teach, /check, /nudge, /equation and /train, each built by its
`content(...)` from the computation's own record, like app/api/responses.py's."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from model.architecture import GRADIENTS
from model.codec import encode_params
from model.lab.check import Check
from model.lab.nudge import Nudge
from model.training.recipes import RecipeName

from .conversions import EncodedArray, MapsEncoding, encode
from .service import Explanation, Lesson
from .training import Trained


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

    @staticmethod
    def content(c: Check) -> dict[str, Any]:
        return {
            "gradient": c.gradient,
            "index": list(c.index),
            "epsilon": c.epsilon,
            "analytic": c.analytic,
            "numerical": c.numerical,
            "relative_error": c.relative_error,
            "left": c.left,
            "right": c.right,
            "kink": c.kink,
            "agrees": c.agrees,
            "why": why(c),
        }


def why(c: Check) -> str:
    if c.kink:
        return (
            f"The loss has a corner here (a ReLU at exactly 0, or a max-pool window whose largest values tie): "
            f"nudged down it moves at {c.left:.6g}, nudged up at {c.right:.6g}, and backpropagation takes the slope "
            f"of the branch the forward pass chose ({c.analytic:.6g}); the central difference lies between."
        )
    if c.agrees:
        return (
            "They agree because backpropagation is the chain rule applied exactly: each gradient is the one "
            "after it times the local derivative, and the central difference measures the same slope "
            f"directly, to within ε² ({c.epsilon:g}²)."
        )
    return f"They differ by {c.relative_error:.2g} relative: more than float64's rounding at this ε explains."


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

    @staticmethod
    def content(n: Nudge, target: int) -> dict[str, Any]:
        return {
            "image": n.frames[-1].tolist(),
            "label": n.label,
            "target": target,
            "steps": n.steps,
            "reached": n.label == target,
            "probabilities": n.probabilities.tolist(),
            "l2": n.l2,
            "largest_change": n.largest_change,
            "frames": encode(n.frames, "float16"),
            "target_probability": n.target_probability.tolist(),
        }


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

    @staticmethod
    def content(t: Trained) -> dict[str, Any]:
        run = t.run
        return {
            "recipe": run.recipe.name,
            "seed": run.seed,
            "step": run.step,
            "epoch": run.step / t.steps_per_epoch,
            "steps_per_epoch": t.steps_per_epoch,
            "lr": run.recipe.lr_at(run.step - 1, t.steps_per_epoch),
            "losses": t.losses,
            "heldout_accuracy": t.heldout_accuracy,
            "heldout_loss": t.heldout_loss,
            "resume": base64.b64encode(run.encode()).decode(),
            "params": encode_params(run.serving_params()),
        }


FORWARD_MAPS = ("S1", "C1", "P1", "S2", "C2", "P2", "f", "S", "O")


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
    forward: dict[str, EncodedArray | list[Any]] | None = Field(
        None, description="with forward=true: S1, C1, P1, S2, C2, P2, f, S and O for this image"
    )
    parameters: dict[str, EncodedArray | list[Any]] | None = Field(
        None, description="with forward=true: k1, b1, k2, b2, w and b of the network that answered"
    )

    @staticmethod
    def content(e: Explanation, encoding: MapsEncoding, *, with_forward: bool = False) -> dict[str, Any]:
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
        } | (ExplainResponse.forward_content(e, encoding) if with_forward else {})

    @staticmethod
    def forward_content(e: Explanation, encoding: MapsEncoding) -> dict[str, Any]:
        fw = e.forward
        return {
            "forward": {name: encode(getattr(fw, name)[0], encoding, decimals=None) for name in FORWARD_MAPS},
            "parameters": {name: encode(value, encoding, decimals=None) for name, value in e.params.items()},
        }


class TeachResponse(BaseModel):
    params: str = Field(description="the parameters after one step, encoded like the request's params")
    label: int
    lr: float
    loss_before: float
    loss_after: float
    probabilities_before: list[float] = Field(description="O before the step (uncalibrated)")
    probabilities_after: list[float] = Field(description="O after the step (uncalibrated)")

    @staticmethod
    def content(lesson: Lesson, label: int, lr: float) -> dict[str, Any]:
        return {
            "params": encode_params(lesson.params),
            "label": label,
            "lr": lr,
            "loss_before": lesson.loss_before,
            "loss_after": lesson.loss_after,
            "probabilities_before": lesson.before.tolist(),
            "probabilities_after": lesson.after.tolist(),
        }


class Factor(BaseModel):
    name: str = Field(description="the quantity (or a mask such as [S1 > 0], or η)")
    index: list[int] = Field(description="its cell")
    value: float


class Term(BaseModel):
    value: float = Field(description="coefficient × the product of the factors")
    coefficient: float = Field(description="1, or -1 for a term subtracted")
    factors: list[Factor]


class Rest(BaseModel):
    count: int = Field(description="how many terms of the sum are not listed")
    nonzero: int = Field(description="how many of those are not 0")
    value: float = Field(description="their sum")


class EquationResponse(BaseModel):
    """One cell of one quantity: the terms add up to `value` (with `rest`, when a sum is long). The
    other fields present depend on `kind` (model/lab/equations.py)."""

    kind: str
    index: list[int]
    name: str = Field(description="the quantity, as the article names it")
    shape: list[int] = Field(description="the quantity's shape (for update, the parameter's)")
    equation: str = Field(description="the article's equation number(s), such as 43 or 7-23")
    text: str = Field(description="the equation in the article's symbols, written for this cell")
    value: float = Field(description="the value the network has at this cell")
    terms: list[Term] = Field(description="the terms of the equation with this drawing's numbers")
    rest: Rest | None = Field(None, description="a long sum: the terms not listed, as one number")
    term_count: int = Field(description="how many terms the sum has in all")
    case: str | None = Field(None, description="which case of a ReLU, a max-pool or of (22)-(23) applies")
    window: list[list[float]] | None = Field(None, description="S1, C1: I's 5x5 window; P1, P2, dLC1, dLC2: 2x2")
    window_origin: list[int] | None = Field(None, description="the 2x2 window's first cell (channel, row, column)")
    winner: list[int] | None = Field(None, description="the cell (channel, row, column) of the window's maximum")
    kernel: list[list[float]] | None = Field(None, description="S1, C1: the kernel")
    products: list[list[float]] | None = Field(None, description="S1, C1: window times kernel, entry by entry")
    bias: float | None = Field(None, description="S1, C1, S2")
    after_relu: float | None = Field(None, description="S1, C1: C1 = max(0, S1)")
    mask: list[list[int]] | None = Field(None, description="dLS2, dLS1: the ReLU's mask of the channel, 1 where S > 0")
    region: dict[str, list[int]] | None = Field(None, description="dLP1: the rows u and columns v of dLS2 that meet")
    flat_index: int | None = Field(None, description="f, dLP2: k = 16m + 4x + y")
    scores: list[float] | None = Field(None, description="O: S")
    exps: list[float] | None = Field(None, description="O: exp(S - max S)")
    sum_of_exps: float | None = Field(None, description="O")
    probability: float | None = Field(None, description="L, dLS: O at the cell")
    log_probability: float | None = Field(None, description="L: ln O_label = -L")
    label: int | None = Field(None, description="L, dLS: the digit the loss blames")
    target: float | None = Field(None, description="dLS: y, 1 for the label and 0 elsewhere")
    upstream: float | None = Field(None, description="dLC2, dLC1: the gradient of the pooled cell above")
    routed: list[list[float]] | None = Field(None, description="dLC2, dLC1: the window's gradient")
    parameter: str | None = Field(None, description="update")
    lr: float | None = Field(None, description="update: η")
    old: float | None = Field(None, description="update: the cell before the step")
    gradient: float | None = Field(None, description="update: ∂L/∂ of the cell")
    new: float | None = Field(None, description="update: the cell after the step")
    loss_before: float | None = Field(None, description="update: L on this drawing before the step")
    loss_after: float | None = Field(None, description="update: L after the step (of every parameter)")
    probabilities_before: list[float] | None = Field(None, description="update: O before")
    probabilities_after: list[float] | None = Field(None, description="update: O after")
    answer_before: int | None = Field(None, description="update: the digit read before")
    answer_after: int | None = Field(None, description="update: the digit read after")
    overshoots: bool | None = Field(
        None, description="update: the step went too far: the loss rose, or a known digit read right is read wrong"
    )
    known_flipped: list[dict[str, int]] | None = Field(
        None, description="update: the page's sample digits (MNIST test) read right before the step and wrong after"
    )
    safe_lr: float | None = Field(None, description="update, overshooting: the largest lr/2^k that lowers the loss")

    @staticmethod
    def content(kind: str, index: list[int], terms: dict[str, Any]) -> dict[str, Any]:
        return {"kind": kind, "index": index} | terms
