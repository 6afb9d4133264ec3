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


class LargestTerm(BaseModel):
    i: int
    j: int
    dLS1: float
    I: float


class EquationResponse(BaseModel):
    """One equation for one cell: the fields present depend on `kind` (model/lab/equations.py)."""

    kind: str
    index: list[int]
    equation: str = Field(description="the article's equation number")
    text: str = Field(description="the equation, written for this cell")
    value: float = Field(description="the value the network has at this cell")
    window: list[list[float]] | None = Field(None, description="S1, P1, dLC2: the input window the cell reads")
    kernel: list[list[float]] | None = Field(None, description="S1: the kernel")
    products: list[list[float]] | None = Field(None, description="S1: window times kernel, entry by entry")
    sum_of_products: float | None = Field(None, description="S1")
    bias: float | None = Field(None, description="S1")
    after_relu: float | None = Field(None, description="S1: C1 = max(0, S1)")
    winner: list[int] | None = Field(None, description="P1, dLC2: the (row, column) of the window's maximum")
    scores: list[float] | None = Field(None, description="O: S")
    exps: list[float] | None = Field(None, description="O: exp(S - max S)")
    sum_of_exps: float | None = Field(None, description="O")
    probability: float | None = Field(None, description="L, dLS: O at the cell")
    target: float | None = Field(None, description="dLS: y, 1 for the label and 0 elsewhere")
    upstream: float | None = Field(None, description="dLC2: the dL/dP2 routed to the winner")
    routed: list[list[float]] | None = Field(None, description="dLC2: the window's gradient")
    terms: int | None = Field(None, description="dLk1: how many terms the sum has")
    nonzero_terms: int | None = Field(None, description="dLk1")
    largest: list[LargestTerm] | None = Field(None, description="dLk1: the largest terms")
    sum: float | None = Field(None, description="dLk1: the sum of every term")

    @staticmethod
    def content(kind: str, index: list[int], terms: dict[str, Any]) -> dict[str, Any]:
        return {"kind": kind, "index": index} | terms
