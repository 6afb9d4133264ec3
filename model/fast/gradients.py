"""Training only: the loss and its gradient for a batch, in the memory order that makes pooling cheap.

network.py's forward and backprop keep the article's layout, every quantity it names, for the
explorer and for reading. A training step needs only the gradient for the parameters, and at a
batch of 64 most of its time goes to element-wise passes over the first layer's 24x24 maps:
ReLU, the max-pool and its gradient, run on stride-2 views. Here the same numbers are computed
with the banded matrices of model/fast/banded.py instead (its docstring explains them): each product's
columns ordered even v first, so that the two columns of every 2x2 window lie in different halves
of a row, and the max-pool and its gradient run on four views with unit stride along memory.
The first layer's band is cut into column blocks (_FirstLayer): a whole row's band is 28 inputs
wide for 5 taps, mostly zeros, and a block's is 12, so its products multiply 2.3x fewer numbers.

Two shortcuts, neither of which changes a gradient:
- the winners of eqs. (42) and (57) are found before the bias and the ReLU. A map's bias moves
  its whole window alike, and ReLU only ties values at 0; where the maximum is at most 0 the
  pooled value P is 0 and the gate P > 0 sends nothing back, whichever cell "won";
- the ReLU gates of eqs. (45) and (60) are applied to the pooled gradients, 4x smaller: a winner
  passes its ReLU exactly where P > 0.

A batch may be cut into parts, each fed forward and back on a thread of its own (batch_gradients),
the loss taken on the whole batch's scores in between; every product runs on one BLAS thread
(threads.py says why). tests/test_fast.py checks the result against network.backprop and against
finite differences.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import NamedTuple, TypeVar

import numpy as np

from ..architecture import Architecture
from ..layers import Array, log_softmax, softmax_cross_entropy_grad
from ..network import Params, Taught
from .banded import (
    article_columns_of_w,
    block_band_sum,
    block_half,
    block_patches,
    block_toeplitz,
    max_and_winners,
    permuted_w,
    pooled_band_sum,
    pooled_side,
    pooled_toeplitz,
    rows_in_block_order,
    rows_in_map_order,
    rows_of,
    to_winners,
)
from .threads import one_blas_thread


def _corners(A: Array) -> tuple[Array, Array, Array, Array]:
    """A: [n, u//2, u%2, v%2, cols] -> the four members of every window, in the order 0..3 of the winners."""
    return A[:, :, 0, 0], A[:, :, 0, 1], A[:, :, 1, 0], A[:, :, 1, 1]


def _relu_pool(x: Array, T: Array, b: Array, kh: int) -> tuple[Array, Array, Array]:
    """x (N, H, R), rows of R numbers -> its patch matrix, P = maxpool(ReLU(conv + b)) and the winners,
    both (N, Ho/2, M*Wo/2): the second layer, on P1's rows in whatever order T's rows read them.

    The patch matrix keeps the output rows u in order (banded.rows_of), unlike inference.py's, so that
    the gradient of the next layer's patch matrix comes back in order too: the winners cost the same.
    """
    N, H, _ = x.shape
    X = rows_of(x, kh)
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


def _bias_gradient(dLP: Array, M: int, blocks: int = 1) -> Array:
    """dL/db, eqs. (47) and (62): the sum of dL/dS over each map, which is the sum of the pooled gradient
    (each window's gradient goes, whole, to its one winner), on an array 4x smaller. dLP's rows hold
    (block, m, y): the first layer's maps lie in column blocks, the second's in one."""
    sums = dLP.reshape(-1, dLP.shape[-1]).sum(axis=0)  # summed along memory first
    return sums.reshape(blocks, M, -1).sum(axis=(0, 2))


class _FirstLayer:
    """C1, eqs. (1)-(2) and (58)-(65), in column blocks (banded.block_patches): the band of a block of
    8 output columns is 12 input columns wide, not 28, and the two parities of its output columns are
    two products, so each pooling corner is a contiguous quarter and P1 comes out as rows of
    [j, m, y % 4] (block j = y // 4), which the second layer's banded matrix reads in that order."""

    def __init__(self, k1: Array, b1: Array, W: int) -> None:
        self.k1, self.kh = k1, k1.shape[1]
        pooled = pooled_side(W, self.kh)
        self.half = block_half(pooled)  # pooled columns of a block
        self.blocks = pooled // self.half
        self.T = block_toeplitz(k1, self.half)  # (2, 60, 24): even, odd output columns
        self.bias = np.tile(np.repeat(b1, self.half), self.blocks)  # b1 along a row of P1

    def forward(self, I: Array) -> tuple[Array, Array, Array]:
        """I (N, H, W) -> the patch matrix X1, P1 (N, 12, 3*6*4) and its winners (each corner: u % 2, v % 2)."""
        N, H, _ = I.shape
        X = block_patches(I, self.kh, self.half)  # rows (u % 2, n, x, j)
        even, odd = X @ self.T[0], X @ self.T[1]
        top = len(X) // 2
        P, winners = max_and_winners((even[:top], odd[:top], even[top:], odd[top:]))
        P = P.reshape(N, pooled_side(H, self.kh), -1)
        P += self.bias
        return X, np.maximum(P, 0, out=P), winners

    def kernel_gradient(self, X: Array, dLP1: Array, winners: Array) -> Array:
        """dL/dk1, eq. (65), from the gated dL/dP1: each window's gradient sent to its winner, eqs. (58)-(60)."""
        top = len(X) // 2
        dLA = np.empty((2, 2 * top, winners.shape[1]), dLP1.dtype)  # [v % 2, (u % 2, rows)]
        to_winners(dLP1.reshape(winners.shape), winners, (dLA[0, :top], dLA[1, :top], dLA[0, top:], dLA[1, top:]))
        dLT = np.stack([X.T @ dLA[0], X.T @ dLA[1]])
        return block_band_sum(dLT, self.k1.shape, self.half)


class _Forward(NamedTuple):
    """What backpropagation needs of a part's feedforward: the patch matrices, the pooled maps, their
    winners, f and the scores S."""

    X1: Array
    P1: Array
    I1: Array
    X2: Array
    P2: Array
    I2: Array
    f: Array
    S: Array


class _Step:
    """The layers of one training step, built once from the parameters and shared by the batch's parts:
    forward and backward keep nothing of their own, so parts may run them at once on different threads.

    The comments give the article's sizes; every size is the architecture's, read from the kernels."""

    def __init__(self, params: Params, W: int) -> None:
        self.params = params
        self.arch = Architecture.of_params(params)
        self.first = _FirstLayer(params["k1"], params["b1"], W)
        # C2's band, its rows (p, c, y) reordered as P1's rows hold them: (p, j, c, y % 4), y = 4j + y % 4
        T2 = pooled_toeplitz(params["k2"], self.arch.sides[1])
        self.T2 = rows_in_block_order(T2, self.arch.k, self.arch.n1, self.first.blocks, self.first.half)  # (360, 96)
        self.wP = permuted_w(params["w"], self.arch)

    def forward(self, I: Array) -> _Forward:
        """Feedforward, eqs. (1)-(5), up to the scores S: P1 (N, 12, 3*6*4) stored [n, x, j, m, y % 4]
        (y = 4j + y % 4) and P2 (N, 4, 12*4) stored [n, x, m, y]."""
        X1, P1, I1 = self.first.forward(I)
        X2, P2, I2 = _relu_pool(P1, self.T2, self.params["b2"], self.arch.k)
        # [x, m, y]: the article's f with its entries permuted, as wP's columns are
        f = P2.reshape(len(I), self.arch.flat)
        return _Forward(X1, P1, I1, X2, P2, I2, f, f @ self.wP.T + self.params["b"])

    def backward(self, fw: _Forward, dLS: Array) -> Params:
        """Backpropagation, eqs. (25)-(65), from dL/dS (N, 10) of these images: the sum of their gradients."""
        arch, k, N = self.arch, self.arch.k, len(dLS)
        X1, P1, I1, X2, P2, I2, f, _ = fw
        dLw = article_columns_of_w(dLS.T @ f, arch)  # eq. (30)
        dLP2 = ((dLS @ self.wP) * (f > 0)).reshape(P2.shape)  # eqs. (38)-(39), gated on P2 for eq. (45)
        dLA2 = _unpool(dLP2, I2)  # eqs. (43)-(45)
        dLT2 = rows_in_map_order(X2.T @ dLA2.reshape(len(X2), -1), k, arch.n1, self.first.blocks, self.first.half)
        dLk2 = pooled_band_sum(dLT2, self.params["k2"].shape, arch.sides[1])  # eq. (50)
        dLb2 = _bias_gradient(dLP2, arch.n2)  # eq. (47)
        # eq. (56): the gradient of the patch matrix, each block added back onto the P1 rows it
        # copied: output row u read rows u..u+4 (the 8 rows of C2 that the max-pool reads).
        rows = len(X2) // N
        dLX2 = (dLA2.reshape(len(X2), -1) @ self.T2.T).reshape(N, rows, k, P1.shape[2])  # (N, 8, 5, 72)
        dLP1 = np.empty_like(P1)
        dLP1[:, :rows], dLP1[:, rows:] = dLX2[:, :, 0], 0
        for p in range(1, k):
            dLP1[:, p : p + rows] += dLX2[:, :, p]
        dLP1 *= P1 > 0  # gated on P1 for eq. (60)
        dLk1 = self.first.kernel_gradient(X1, dLP1, I1)  # eqs. (58)-(60), (65)
        dLb1 = _bias_gradient(dLP1, arch.n1, self.first.blocks)  # eq. (62)
        return {"k1": dLk1, "b1": dLb1, "k2": dLk2, "b2": dLb2, "w": dLw, "b": dLS.sum(axis=0)}


def _mean_cross_entropy(S: Array, labels: Array) -> tuple[float, Array]:
    """The article's loss, eq. (6), averaged over the batch, and its gradient dL/dS, eq. (23)."""
    log_O = log_softmax(S)
    O = np.exp(log_O)  # eq. (5), its logarithm kept for the loss
    return float(-log_O[np.arange(len(S)), labels].mean()), softmax_cross_entropy_grad(O, labels)


def batch_gradients(
    params: Params,
    I: Array,
    labels: Array,
    objective: Callable[[Array], tuple[float, Array]] | None = None,
    parts: int = 1,
) -> Taught:
    """The mean of L = -ln O_label over the batch I (N, 28, 28), and its gradient keyed like params.

    objective, if given, maps the scores S to another mean loss and its dL/dS (label smoothing,
    distillation: model/training/objectives.py); backpropagation from dL/dS on is the same.

    parts > 1 cuts the batch into that many parts, each fed forward and back on a thread of its own
    (NumPy lets go of the GIL inside its loops and products), the loss taken on the whole batch's S
    in between: the same gradient up to the order of float32 sums. The cut depends only on N and
    parts, never on timing, so a run is as repeatable as on one thread."""
    step = _Step(params, I.shape[2])
    cuts = [slice(a[0], a[-1] + 1) for a in np.array_split(np.arange(len(I)), min(parts, len(I)))]
    forwards = _each(step.forward, [I[cut] for cut in cuts])
    S = forwards[0].S if len(cuts) == 1 else np.concatenate([fw.S for fw in forwards])
    loss, dLS = objective(S) if objective is not None else _mean_cross_entropy(S, labels)
    sums = _each(lambda part: step.backward(*part), [(fw, dLS[cut]) for fw, cut in zip(forwards, cuts, strict=True)])
    grads = dict(sums[0])
    for part in sums[1:]:  # the parts' sums, in the batch's order
        grads = {key: grads[key] + part[key] for key in grads}
    return Taught(loss, int((S.argmax(axis=1) == labels).sum()), grads)


_T = TypeVar("_T")
_R = TypeVar("_R")


@cache
def _pool(workers: int) -> ThreadPoolExecutor:
    """The threads of a batch's other parts, made on first use: a process that trains on one thread starts none."""
    return ThreadPoolExecutor(workers, thread_name_prefix="batch-part")


def _each(work: Callable[[_T], _R], items: list[_T]) -> list[_R]:
    """work(item) for every item, in order: the first on this thread, the others on the pool's,
    every one of them on one BLAS thread."""

    def alone(item: _T) -> _R:
        with one_blas_thread():
            return work(item)

    if len(items) == 1:
        return [alone(items[0])]
    others = [_pool(len(items) - 1).submit(alone, item) for item in items[1:]]
    return [alone(items[0])] + [future.result() for future in others]
