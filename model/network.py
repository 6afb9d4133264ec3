"""The article's network: feedforward (1)-(5), loss (6), backpropagation (7)-(65), the update (66).

    I (28x28) -> S1 = k1 * I + b1 -> C1 = ReLU(S1) -> P1 = maxpool(C1)
              -> S2 = k2 * P1 + b2 -> C2 = ReLU(S2) -> P2 = maxpool(C2)
              -> f = flatten(P2) -> S = w f + b -> O = softmax(S),  L = -ln O_label

The comments give the article's sizes (n1 = 6 and n2 = 12 kernels of 5x5); every function serves
the whole family of model/architecture.py, its sizes read from the parameters' shapes.

Every function works on a batch of N images; the batch loss and gradients are
the means of the article's per-image ones. Nothing here checks its input: model/cnn.py (model.CNN)
does, at the boundary. bench/reference.py writes the same equations as plain loops over one
image, index by index, and the tests hold these functions equal to it.
"""

from __future__ import annotations

from math import prod
from typing import NamedTuple

import numpy as np

from .architecture import ARTICLE, PARAM_SHAPES, Architecture
from .layers import (
    Array,
    conv2d,
    conv2d_grad_b,
    conv2d_grad_k,
    conv2d_grad_x,
    cross_entropy,
    dense,
    maxpool2,
    maxpool2_grad,
    relu,
    relu_grad,
    softmax,
    softmax_cross_entropy_grad,
)

Params = dict[str, Array]


class Forward(NamedTuple):
    """Everything the feedforward pass computed, named as in the article, for one batch."""

    I: Array  # (N, 28, 28) the images
    S1: Array  # (N, 6, 24, 24)
    C1: Array  # (N, 6, 24, 24)
    I1: Array  # (N, 6, 12, 12) max-pool winners, eq. (57)
    P1: Array  # (N, 6, 12, 12)
    S2: Array  # (N, 12, 8, 8)
    C2: Array  # (N, 12, 8, 8)
    I2: Array  # (N, 12, 4, 4) max-pool winners, eq. (42)
    P2: Array  # (N, 12, 4, 4)
    f: Array  # (N, 192)
    S: Array  # (N, 10)
    O: Array  # (N, 10)


def init_params(
    rng: np.random.Generator, dtype: np.dtype | type = np.float32, architecture: Architecture = ARTICLE
) -> Params:
    """He initialisation for the ReLU layers, LeCun for the softmax layer; biases 0. The variances
    are 2 / fan-in: 2/25, 2/150 and 1/192 for the article's network."""
    shapes = architecture.param_shapes()
    fan_in = {name: prod(shapes[name][1:]) for name in ("k1", "k2", "w")}
    params = {
        "k1": rng.normal(0.0, np.sqrt(2 / fan_in["k1"]), shapes["k1"]),
        "b1": np.zeros(shapes["b1"]),
        "k2": rng.normal(0.0, np.sqrt(2 / fan_in["k2"]), shapes["k2"]),
        "b2": np.zeros(shapes["b2"]),
        "w": rng.normal(0.0, np.sqrt(1 / fan_in["w"]), shapes["w"]),
        "b": np.zeros(shapes["b"]),
    }
    return {name: value.astype(dtype) for name, value in params.items()}


def forward(params: Params, I: Array) -> Forward:
    """The feedforward pass, eqs. (1)-(5). I: (N, 28, 28) -> the whole cache."""
    N = len(I)
    k1, b1, k2, b2, w, b = (params[name] for name in PARAM_SHAPES)
    S1 = conv2d(I[:, None], k1[:, None], b1)  # (N, 6, 24, 24), eq. (1)
    C1 = relu(S1)
    P1, I1 = maxpool2(C1)  # (N, 6, 12, 12), eq. (2)
    S2 = conv2d(P1, k2, b2)  # (N, 12, 8, 8), eq. (3)
    C2 = relu(S2)
    P2, I2 = maxpool2(C2)  # (N, 12, 4, 4), eq. (4)
    f = P2.reshape(N, -1)  # (N, 192), f[16m + 4x + y] = P2[m, x, y]
    S = dense(f, w, b)  # (N, 10), eq. (5)
    O = softmax(S)
    return Forward(I, S1, C1, I1, P1, S2, C2, I2, P2, f, S, O)


def mean_loss(fw: Forward, labels: Array) -> float:
    """The mean over the batch of L = -ln O_label, eq. (6)."""
    return float(cross_entropy(fw.S, labels).mean())


class Backward(NamedTuple):
    """Every gradient of backpropagation, named as in the article, for one batch (of the mean loss)."""

    dLS: Array  # (N, 10), eq. (23); dL/db = dLS summed over the batch
    dLb: Array  # (10,), eq. (25)
    dLw: Array  # (10, 192), eq. (30)
    dLf: Array  # (N, 192), eq. (38)
    dLP2: Array  # (N, 12, 4, 4), eq. (39)
    dLC2: Array  # (N, 12, 8, 8), eq. (43)
    dLS2: Array  # (N, 12, 8, 8), eq. (45)
    dLb2: Array  # (12,), eq. (47)
    dLk2: Array  # (12, 6, 5, 5), eq. (50)
    dLP1: Array  # (N, 6, 12, 12), eq. (56)
    dLC1: Array  # (N, 6, 24, 24), eq. (58)
    dLS1: Array  # (N, 6, 24, 24), eq. (60)
    dLb1: Array  # (6,), eq. (62)
    dLk1: Array  # (6, 5, 5), eq. (65)
    dLI: Array  # (N, 28, 28), the gradient for the image itself (a saliency map); not in the article

    def params(self) -> Params:
        return {"k1": self.dLk1, "b1": self.dLb1, "k2": self.dLk2, "b2": self.dLb2, "w": self.dLw, "b": self.dLb}


def backprop(params: Params, fw: Forward, labels: Array) -> Backward:
    """Backpropagation, eqs. (7)-(65): every gradient of the mean loss over the batch, and the
    gradient for the images themselves."""
    dLS = softmax_cross_entropy_grad(fw.O, labels)  # (N, 10), eq. (23), already / N
    dLb = dLS.sum(axis=0)  # eq. (25)
    dLw = dLS.T @ fw.f  # (10, 192), eq. (30)
    dLf = dLS @ params["w"]  # (N, 192), eq. (38)
    dLP2 = dLf.reshape(fw.P2.shape)  # eq. (39)
    dLC2 = maxpool2_grad(dLP2, fw.I2, fw.C2.shape[-1])  # (N, 12, 8, 8), eq. (43)
    dLS2 = relu_grad(dLC2, fw.S2)  # eq. (45)
    dLb2 = conv2d_grad_b(dLS2)  # eq. (47)
    dLk2 = conv2d_grad_k(dLS2, fw.P1)  # (12, 6, 5, 5), eq. (50)
    dLP1 = conv2d_grad_x(dLS2, params["k2"])  # (N, 6, 12, 12), eq. (56)
    dLC1 = maxpool2_grad(dLP1, fw.I1, fw.C1.shape[-1])  # (N, 6, 24, 24), eq. (58)
    dLS1 = relu_grad(dLC1, fw.S1)  # eq. (60)
    dLb1 = conv2d_grad_b(dLS1)  # eq. (62)
    dLk1 = conv2d_grad_k(dLS1, fw.I[:, None])[:, 0]  # (6, 5, 5), eq. (65)
    dLI = conv2d_grad_x(dLS1, params["k1"][:, None])[:, 0]  # (N, 28, 28)
    return Backward(dLS, dLb, dLw, dLf, dLP2, dLC2, dLS2, dLb2, dLk2, dLP1, dLC1, dLS1, dLb1, dLk1, dLI)


def sgd(params: Params, grads: Params, lr: float) -> Params:
    """One step of stochastic gradient descent, eq. (66): k <- k - eta dL/dk, for every parameter."""
    return {name: value - np.asarray(lr, value.dtype) * grads[name] for name, value in params.items()}


class Taught(NamedTuple):
    """What one batch gives training: its mean loss, how many it got right, the gradient of the mean loss."""

    loss: float
    correct: int
    grads: Params


def batch_gradients(params: Params, I: Array, labels: Array) -> Taught:
    """Eqs. (1)-(65) for a training batch: forward, the mean loss (6), backpropagation."""
    fw = forward(params, I)
    correct = int((fw.S.argmax(axis=1) == labels).sum())
    return Taught(mean_loss(fw, labels), correct, backprop(params, fw, labels).params())
