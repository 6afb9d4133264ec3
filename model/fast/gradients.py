"""Training only: the loss and its gradient for a batch, in the memory order that makes pooling cheap.

network.py's forward and backprop keep the article's layout, every quantity it names, for the
explorer and for reading. A training step needs only the gradient for the parameters, and at a
batch of 64 most of its time goes to element-wise passes over the first layer's 24x24 maps:
ReLU, the max-pool and its gradient, run on stride-2 views. Here the same numbers are computed
with the banded matrices of model/fast/banded.py instead (its docstring explains them): each product's
columns ordered even v first, so that the two columns of every 2x2 window lie in different halves
of a row, and the max-pool and its gradient run on four views with unit stride along memory.

Two shortcuts, neither of which changes a gradient:
- the winners of eqs. (42) and (57) are found before the bias and the ReLU. A map's bias moves
  its whole window alike, and ReLU only ties values at 0; where the maximum is at most 0 the
  pooled value P is 0 and the gate P > 0 sends nothing back, whichever cell "won";
- the ReLU gates of eqs. (45) and (60) are applied to the pooled gradients, 4x smaller: a winner
  passes its ReLU exactly where P > 0.

tests/test_fast.py checks the result against network.backprop and against finite differences.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..architecture import Architecture
from ..layers import Array, log_softmax, softmax_cross_entropy_grad
from ..network import Params, Taught
from .banded import (
    article_columns_of_w,
    max_and_winners,
    permuted_w,
    pooled_band_sum,
    pooled_banded,
    pooled_side,
    rows_of,
    to_winners,
)


def _corners(A: Array) -> tuple[Array, Array, Array, Array]:
    """A: [n, u//2, u%2, v%2, cols] -> the four members of every window, in the order 0..3 of the winners."""
    return A[:, :, 0, 0], A[:, :, 0, 1], A[:, :, 1, 0], A[:, :, 1, 1]


def _relu_pool(x: Array, C: int, T: Array, b: Array, kh: int) -> tuple[Array, Array, Array]:
    """x (N, H, C*W) -> its patch matrix, P = maxpool(ReLU(conv + b)) and the winners, both (N, Ho/2, M*Wo/2).

    The patch matrix keeps the output rows u in order (banded.rows_of), unlike inference.py's, so that
    the gradient of the next layer's patch matrix comes back in order too: the winners cost the same.
    """
    N, H, CW = x.shape
    X = rows_of(x.reshape(N, H, C, CW // C).transpose(0, 2, 1, 3), kh)
    A = (X @ T).reshape(N, pooled_side(H, kh), 2, 2, -1)  # [n, u//2, u%2, v%2, (m, v//2)]
    P, I = max_and_winners(_corners(A))  # ties to the first maximum, as layers.maxpool2
    P += np.repeat(b, P.shape[2] // len(b))
    return X, np.maximum(P, 0, out=P), I


def _unpool(dLP: Array, I: Array) -> Array:
    """The gradient dLP of the pooled maps sent to each window's winner, in _relu_pool's product layout."""
    N, h, cols = dLP.shape
    dLA = np.empty((N, h, 2, 2, cols), dLP.dtype)
    to_winners(dLP, I, _corners(dLA))
    return dLA


def _kernel_gradient(X: Array, dLA: Array, kernel_shape: tuple[int, int, int, int], W: int) -> Array:
    """dL/dk of one convolution from its patch matrix and its output's gradient: eqs. (50) and (65)."""
    return pooled_band_sum(X.T @ dLA.reshape(len(X), -1), kernel_shape, W)


def _bias_gradient(dLP: Array, M: int) -> Array:
    """dL/db, eqs. (47) and (62): the sum of dL/dS over each map, which is the sum of the pooled gradient
    (each window's gradient goes, whole, to its one winner), on an array 4x smaller."""
    return dLP.reshape(-1, dLP.shape[-1]).sum(axis=0).reshape(M, -1).sum(axis=1)  # summed along memory first


def batch_gradients(
    params: Params, I: Array, labels: Array, objective: Callable[[Array], tuple[float, Array]] | None = None
) -> Taught:
    """The mean of L = -ln O_label over the batch I (N, 28, 28), and its gradient keyed like params.

    objective, if given, maps the scores S to another mean loss and its dL/dS (label smoothing,
    distillation: model/training/objectives.py); backpropagation from dL/dS on is the same.

    The comments give the article's sizes; every size is the architecture's, read from the kernels."""
    N = len(I)
    b1, k2, b2, b = params["b1"], params["k2"], params["b2"], params["b"]
    arch = Architecture.of_params(params)
    n1, k, P1_side = arch.n1, arch.k, arch.sides[1]
    T1, T2 = pooled_banded(params, arch)  # (140, 144), (360, 96)
    wP = permuted_w(params["w"], arch)

    # Feedforward, eqs. (1)-(5): P1 (N, 12, 6*12) and P2 (N, 4, 12*4), stored [n, x, m, y].
    X1, P1, I1 = _relu_pool(I, 1, T1, b1, k)
    X2, P2, I2 = _relu_pool(P1, n1, T2, b2, k)
    f = P2.reshape(N, arch.flat)  # [x, m, y]: the article's f with its entries permuted, as wP's columns are
    S = f @ wP.T + b
    if objective is None:
        log_O = log_softmax(S)
        O = np.exp(log_O)  # eq. (5), its logarithm kept for the loss, eq. (6)
        loss = float(-log_O[np.arange(N), labels].mean())
        dLS = softmax_cross_entropy_grad(O, labels)  # eq. (23)
    else:
        loss, dLS = objective(S)

    # Backpropagation, eqs. (25)-(65).
    dLw = article_columns_of_w(dLS.T @ f, arch)  # eq. (30)
    dLP2 = ((dLS @ wP) * (f > 0)).reshape(P2.shape)  # eqs. (38)-(39), gated on P2 for eq. (45)
    dLA2 = _unpool(dLP2, I2)  # eqs. (43)-(45)
    dLk2, dLb2 = _kernel_gradient(X2, dLA2, k2.shape, P1_side), _bias_gradient(dLP2, arch.n2)  # eqs. (47), (50)
    # eq. (56): the gradient of the patch matrix, each block added back onto the P1 rows it
    # copied: output row u read rows u..u+4 (the 8 rows of C2 that the max-pool reads).
    rows = len(X2) // N
    dLX2 = (dLA2.reshape(len(X2), -1) @ T2.T).reshape(N, rows, k, P1.shape[2])  # (N, 8, 5, 72)
    dLP1 = np.empty_like(P1)
    dLP1[:, :rows], dLP1[:, rows:] = dLX2[:, :, 0], 0
    for p in range(1, k):
        dLP1[:, p : p + rows] += dLX2[:, :, p]
    dLP1 *= P1 > 0  # gated on P1 for eq. (60)
    dLA1 = _unpool(dLP1, I1)  # eqs. (58)-(60)
    kernel1 = (n1, 1, k, k)
    dLk1, dLb1 = _kernel_gradient(X1, dLA1, kernel1, I.shape[2]), _bias_gradient(dLP1, n1)  # eqs. (62), (65)

    grads = {"k1": dLk1[:, 0], "b1": dLb1, "k2": dLk2, "b2": dLb2, "w": dLw, "b": dLS.sum(axis=0)}
    return Taught(loss, int((S.argmax(axis=1) == labels).sum()), grads)
