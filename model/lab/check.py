"""Check one number of one gradient by hand: nudge that one quantity by ±ε, in float64, and see how
the loss L = -ln O_label moves.

    numerical = (L(x + ε) - L(x - ε)) / 2ε        beside backpropagation's value

Any quantity the article differentiates can be nudged: a parameter (k1 b1 k2 b2 w b), the image
I, or an intermediate one (S1 C1 P1 S2 C2 P2 f S), in which case the forward pass resumes from
there with that one number changed. Where the loss has a corner at that point (a ReLU at exactly
0, a max-pool window whose largest values tie), the slopes to the left and to the right differ:
backpropagation takes one of them and the central difference lies between; `Check.kink` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..architecture import IMAGE_SHAPE, PARAM_SHAPES
from ..layers import conv2d, dense, maxpool2, relu
from ..network import Params, backprop, forward

Array = np.ndarray
PARAM_OF = {"dLk1": "k1", "dLb1": "b1", "dLk2": "k2", "dLb2": "b2", "dLw": "w", "dLb": "b"}
KINK_TOLERANCE = 1e-3  # one-sided slopes further apart than this (relative) mark a corner
EPSILON = 1e-5  # the default step: truncation ~ ε², round-off ~ 1e-16 L / ε, both small here


@dataclass(frozen=True)
class Check:
    gradient: str
    index: tuple[int, ...]
    epsilon: float
    analytic: float  # backpropagation's value
    numerical: float  # the central difference
    left: float  # (L(x) - L(x - ε)) / ε
    right: float  # (L(x + ε) - L(x)) / ε
    relative_error: float  # |numerical - analytic| / max(|numerical|, |analytic|)
    kink: bool  # the slopes either side differ: the loss has a corner here
    resolution: float  # the smallest slope float64 can resolve at this loss and ε (round-off of L / ε)

    @property
    def agrees(self) -> bool:
        """Within 1e-6 relative, or within what float64 can resolve where the gradient is tiny."""
        return bool(
            abs(self.numerical - self.analytic)
            <= max(1e-6 * max(abs(self.numerical), abs(self.analytic)), self.resolution)
        )


def tail(params: Params) -> dict[str, Callable[[Array], Array]]:
    """For each quantity, the scores S as a function of it, the rest of the forward pass (eqs. 1-5) following."""
    k1, b1, k2, b2, w, b = (params[name] for name in PARAM_SHAPES)
    fns: dict[str, Callable[[Array], Array]] = {}
    fns["S"] = lambda S: S
    fns["f"] = lambda f: dense(f[None], w, b)[0]
    fns["P2"] = lambda P2: fns["f"](P2.reshape(-1))
    fns["C2"] = lambda C2: fns["P2"](maxpool2(C2[None])[0][0])
    fns["S2"] = lambda S2: fns["C2"](relu(S2))
    fns["P1"] = lambda P1: fns["S2"](conv2d(P1[None], k2, b2)[0])
    fns["C1"] = lambda C1: fns["P1"](maxpool2(C1[None])[0][0])
    fns["S1"] = lambda S1: fns["C1"](relu(S1))
    fns["I"] = lambda I: fns["S1"](conv2d(I[None, None], k1[:, None], b1)[0])
    return fns


def loss_change(S: Array, S0: Array, label: int) -> float:
    """L(S) - L(S0) for L = -ln softmax(S)[label], eq. (6), computed from the scores' changes d = S - S0
    so that no digit is lost to the size of L itself: log(sum_j O0_j exp(d_j)) - d_label."""
    d = S - S0
    O0 = np.exp(S0 - S0.max())
    O0 /= O0.sum()
    return float(np.log1p(np.sum(O0 * np.expm1(d))) - d[label])


def check(params: Params, image: Array, label: int, gradient: str, index: tuple[int, ...], epsilon: float) -> Check:
    """Backpropagation's ∂L/∂x at `index` of `gradient` beside the central difference, in float64."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    I = np.asarray(image, np.float64).reshape(IMAGE_SHAPE)
    fw = forward(p, I[None])
    analytic = float(
        np.asarray(getattr(backprop(p, fw, np.array([label])), gradient))[(0,) * (gradient not in PARAM_OF) + index]
    )

    if gradient in PARAM_OF:
        name = PARAM_OF[gradient]

        def scores_at(delta: float) -> Array:
            q = {k: v.copy() for k, v in p.items()}
            q[name][index] += delta
            return tail(q)["I"](I)
    else:
        quantity = gradient[2:]  # dLS1 -> S1
        base = I if quantity == "I" else getattr(fw, quantity)[0]
        scores_of = tail(p)[quantity]

        def scores_at(delta: float) -> Array:
            x = np.array(base, np.float64)
            x[index] += delta
            return scores_of(x)

    S0 = scores_at(0.0)
    up, down = loss_change(scores_at(epsilon), S0, label), loss_change(scores_at(-epsilon), S0, label)
    numerical = (up - down) / (2 * epsilon)
    left, right = -down / epsilon, up / epsilon
    scale = max(abs(numerical), abs(analytic))
    error = 0.0 if scale < 1e-15 else abs(numerical - analytic) / scale
    # the scores' rounding (a few units in the last place of the largest) over ε: what float64 resolves
    resolution = float(8 * np.finfo(np.float64).eps * max(1.0, float(np.abs(S0).max())) / epsilon)
    kink = bool(abs(left - right) > max(KINK_TOLERANCE * max(abs(left), abs(right)), 2 * resolution))
    return Check(
        gradient, index, epsilon, analytic, float(numerical), float(left), float(right), error, kink, resolution
    )
