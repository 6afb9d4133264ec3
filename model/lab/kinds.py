"""The quantities of the article that /equation answers for, in its order: each kind's symbol, its
equation number(s), the shape of the cells an index addresses, and what it is in words."""

from __future__ import annotations

from typing import NamedTuple

from ..architecture import PARAM_SHAPES


class Kind(NamedTuple):
    name: str  # the article's symbol
    equation: str  # its number(s), as the article numbers them
    shape: tuple[int, ...]  # the cells an index addresses ((), one number; update: the parameter's)
    what: str  # in words


KINDS = (
    Kind("S1", "1", (6, 24, 24), "the first convolution, before the ReLU"),
    Kind("C1", "1", (6, 24, 24), "the first convolution after the ReLU"),
    Kind("P1", "2", (6, 12, 12), "the first max-pool"),
    Kind("S2", "3", (12, 8, 8), "the second convolution, before the ReLU"),
    Kind("C2", "3", (12, 8, 8), "the second convolution after the ReLU"),
    Kind("P2", "4", (12, 4, 4), "the second max-pool"),
    Kind("f", "5", (192,), "P2 flattened into one list"),
    Kind("S", "5", (10,), "the ten scores"),
    Kind("O", "5", (10,), "the ten probabilities (softmax)"),
    Kind("L", "6", (), "the loss"),
    Kind("dLS", "7-23", (10,), "how the loss changes with each score"),
    Kind("dLb", "25", PARAM_SHAPES["b"], "the gradient of the last biases b"),
    Kind("dLw", "30", PARAM_SHAPES["w"], "the gradient of the last weights w"),
    Kind("dLf", "38", (192,), "the gradient of f"),
    Kind("dLP2", "39", (12, 4, 4), "the gradient of P2 (dLf put back into P2's shape)"),
    Kind("dLC2", "43", (12, 8, 8), "the gradient of C2: only each window's winner gets one"),
    Kind("dLS2", "45", (12, 8, 8), "the gradient of S2: only where the ReLU let S2 through"),
    Kind("dLb2", "47", PARAM_SHAPES["b2"], "the gradient of the second biases b2"),
    Kind("dLk2", "50", PARAM_SHAPES["k2"], "the gradient of the second kernels k2"),
    Kind("dLP1", "56", (6, 12, 12), "the gradient of P1, carried back through k2"),
    Kind("dLC1", "58", (6, 24, 24), "the gradient of C1: only each window's winner gets one"),
    Kind("dLS1", "60", (6, 24, 24), "the gradient of S1: only where the ReLU let S1 through"),
    Kind("dLb1", "62", PARAM_SHAPES["b1"], "the gradient of the first biases b1"),
    Kind("dLk1", "65", PARAM_SHAPES["k1"], "the gradient of the first kernels k1"),
    Kind("update", "66", (), "one step of gradient descent on one parameter"),
)
BY_NAME = {k.name: k for k in KINDS}
SHAPES = {k.name: k.shape for k in KINDS}  # update's shape is its parameter's: see shape_of


def shape_of(kind: str, parameter: str | None = None) -> tuple[int, ...]:
    """The shape an index of this kind addresses (for update, that of its parameter)."""
    if kind == "update":
        if parameter not in PARAM_SHAPES:
            raise ValueError(f"kind 'update' needs a parameter, one of {', '.join(PARAM_SHAPES)}")
        return PARAM_SHAPES[parameter]
    if kind not in BY_NAME:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(BY_NAME)}")
    return BY_NAME[kind].shape


# --- terms: coefficient x product of named cells ---
