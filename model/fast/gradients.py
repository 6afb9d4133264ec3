"""Training only: the loss and its gradient for a batch, in the memory order that makes pooling cheap.

network.py's forward and backprop keep the article's layout, every quantity it names, for the
explorer and for reading. A training step needs only the gradient for the parameters, and at a
batch of 64 much of its time goes to element-wise passes over the first layer's 24x24 maps:
ReLU, the max-pool and its gradient. Here the same numbers are computed with the banded matrices
of model/fast/banded.py instead (its docstring explains them), arranged so that those passes run
along memory: the patch matrix's rows hold even output rows first, the banded matrix's columns
even output columns first, and the product is computed transposed (T^T X^T), so that each of the
four members of every 2x2 window is a block of whole rows. C1's band is cut into column blocks
(banded.column_blocks): a whole row's band is mostly zeros, and the products shrink by half.

Two shortcuts, neither of which changes a gradient:
- the winners of eqs. (42) and (57) are found before the bias and the ReLU (as three comparisons,
  banded.max_and_choices). A map's bias moves its whole window alike, and ReLU only ties values
  at 0; where the maximum is at most 0 the pooled value P is 0 and the gate P > 0 sends nothing
  back, whichever cell "won";
- the ReLU gates of eqs. (45) and (60) are applied to the pooled gradients, 4x smaller: a winner
  passes its ReLU exactly where P > 0.

tests/test_fast.py checks the result against network.backprop and against finite differences.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple, TypeVar

import numpy as np

from ..architecture import Architecture
from ..layers import Array, log_softmax, softmax_cross_entropy_grad
from ..network import Params, Taught
from .banded import (
    Choices,
    article_columns_of_w,
    block_width,
    blocked_rows,
    column_blocks,
    max_and_choices,
    permuted_w,
    pooled_band_sum,
    pooled_toeplitz,
    to_choices,
)
from .threads import one_blas_thread

Corners = tuple[Array, Array, Array, Array]
_C1_LEAST_HALF = 4  # the fewest pooled columns in one of C1's column blocks (banded.column_blocks)


def _corners(AT: Array) -> Corners:
    """AT: [v%2, (m, v//2), u%2, (n, u//2, j)] -> the four members of every window, in the order 0..3."""
    return AT[0, :, 0], AT[1, :, 0], AT[0, :, 1], AT[1, :, 1]


class _Conv:
    """One convolution of a training step: its banded matrix over `blocks` column blocks (banded.blocked_rows).

    Its products are computed transposed, T^T X^T: the maps' columns (v%2, m, v//2) become rows, so each
    member of the pooling windows is a block of whole rows of N*h*blocks numbers, and the max-pool and
    its gradient run along memory."""

    def __init__(self, k: Array, b: Array, W: int, blocks: int) -> None:
        self.kernel_shape = M, C, kh, kw = k.shape
        self.blocks, self.Wb = blocks, block_width(W, kw, blocks)
        self.T = pooled_toeplitz(k, self.Wb)  # (kh*C*Wb, M*B)
        self.bias = np.repeat(b, self.T.shape[1] // (2 * M))[:, None]  # [(m, v//2 in a block)]

    def relu_pool(self, x: Array) -> tuple[Array, Array, Choices]:
        """x (N, H, C*W) -> its patch matrix, P = maxpool(ReLU(conv + b)) [(m, y % d), (n, x, j)] and the choices."""
        X = blocked_rows(x, self.kernel_shape[1], self.kernel_shape[2], self.blocks)
        AT = (self.T.T @ X.T).reshape(2, self.T.shape[1] // 2, 2, -1)
        P, choices = max_and_choices(_corners(AT))  # ties to the first maximum, as layers.maxpool2
        P += self.bias
        return X, np.maximum(P, 0, out=P), choices

    def unblocked(self, P: Array, N: int) -> Array:
        """Pooled maps [(m, y % d), (n, x, j)] -> [n, x, (m, y)] (N, h, M*w), the next layer's input."""
        M, (Md, R) = self.kernel_shape[0], P.shape
        h, d = R // (N * self.blocks), Md // M
        return P.reshape(M, d, N, h, self.blocks).transpose(2, 3, 0, 4, 1).reshape(N, h, -1)

    def gated(self, dLP: Array, P: Array) -> Array:
        """dLP (N, ...) in the order [n, x, m, y] -> dLP * (P > 0) in P's layout: the ReLU's gate of eqs.
        (45) and (60), applied where the pooled value is positive."""
        M, blocks, N = self.kernel_shape[0], self.blocks, len(dLP)
        gate = (P > 0).reshape(M, -1, N, P.shape[1] // (N * blocks), blocks)  # [m, y % d, n, x, j]
        out = np.empty_like(P)
        view = dLP.reshape(N, gate.shape[3], M, blocks, -1).transpose(2, 4, 0, 1, 3)
        np.multiply(view, gate, out=out.reshape(gate.shape))
        return out

    def gradients(self, X: Array, dLP: Array, choices: Choices) -> tuple[Array, Array, Array]:
        """dL/dk, dL/db (eqs. (47)/(50) or (62)/(65)) and dL/dS^T from the gated dLP, which this overwrites."""
        dLb = dLP.reshape(self.kernel_shape[0], -1).sum(axis=1)
        dLAT = np.empty((2, len(dLP), 2, dLP.shape[1]), dLP.dtype)
        to_choices(dLP, choices, _corners(dLAT))
        dLAT = dLAT.reshape(self.T.shape[1], -1)
        return pooled_band_sum((dLAT @ X).T, self.kernel_shape, self.Wb), dLb, dLAT  # dLAT @ X: BLAS's faster order


class _Step:
    """The layers of one training step, built once from the parameters and shared by the batch's parts.

    forward and backward hold no state of their own, so parts of a batch may run them at once on
    different threads (batch_gradients)."""

    def __init__(self, params: Params, W: int) -> None:
        self.arch = arch = Architecture.of_params(params)
        # C1 in 3 blocks of 8 columns (T1 (5*12, 6*8)): the band of a whole row would be mostly zeros.
        # C2 in one (T2 (360, 96)): blocks made its products smaller but the fold of eq. (56) dearer.
        self.conv1 = _Conv(params["k1"][:, None], params["b1"], W, column_blocks(W, arch.k, _C1_LEAST_HALF))
        self.conv2 = _Conv(params["k2"], params["b2"], arch.sides[1], 1)
        self.wP, self.b = permuted_w(params["w"], arch), params["b"]

    def forward(self, I: Array) -> _Forward:
        """Feedforward, eqs. (1)-(5), up to the scores S: P1 (N, 12, 6*12) and P2 (N, 4, 12*4) stored
        [n, x, m, y] between the layers. The comments give the article's sizes; every size is the
        architecture's, read from the kernels."""
        N = len(I)
        X1, P1b, choices1 = self.conv1.relu_pool(I)
        X2, P2b, choices2 = self.conv2.relu_pool(self.conv1.unblocked(P1b, N))
        f = self.conv2.unblocked(P2b, N).reshape(N, self.arch.flat)  # [x, m, y]: the article's f permuted
        return _Forward(X1, P1b, choices1, X2, P2b, choices2, f, f @ self.wP.T + self.b)

    def backward(self, fw: _Forward, dLS: Array) -> Params:
        """Backpropagation, eqs. (25)-(65), from dL/dS (N, 10) of these images: the sum of their gradients."""
        arch, conv1, conv2 = self.arch, self.conv1, self.conv2
        N, n1, k, P1_side = len(dLS), arch.n1, arch.k, arch.sides[1]
        dLw = article_columns_of_w(dLS.T @ fw.f, arch)  # eq. (30)
        dLP2 = conv2.gated(dLS @ self.wP, fw.P2b)  # eqs. (38)-(39), gated for (45)
        dLk2, dLb2, dLAT2 = conv2.gradients(fw.X2, dLP2, fw.choices2)  # eqs. (43)-(50)
        # eq. (56): the gradient of the patch matrix, each block added back onto the P1 rows and columns
        # it copied: output row u = 2x + i read rows u..u+4 (the 8 rows of C2 that the max-pool reads).
        B, Wb, blocks = conv2.T.shape[1] // arch.n2, conv2.Wb, conv2.blocks
        dLX2 = (dLAT2.T @ conv2.T.T).reshape(2, N, -1, blocks, k, n1, Wb)  # (2, N, 4, 1, 5, 6, 12)
        h2 = dLX2.shape[2]
        dLP1 = np.zeros((N, P1_side, n1, P1_side), dLS.dtype)
        for i in range(2):
            for p in range(k):
                for j in range(blocks):
                    dLP1[:, i + p : i + p + 2 * h2 : 2, :, j * B : j * B + Wb] += dLX2[i, :, :, j, p]
        dLk1, dLb1, _ = conv1.gradients(fw.X1, conv1.gated(dLP1, fw.P1b), fw.choices1)  # eqs. (58)-(65)
        return {"k1": dLk1[:, 0], "b1": dLb1, "k2": dLk2, "b2": dLb2, "w": dLw, "b": dLS.sum(axis=0)}


class _Forward(NamedTuple):
    """What backward needs of a part's feedforward: the patch matrices, the pooled maps in their
    layouts, the winners' choices, f and the scores S."""

    X1: Array
    P1b: Array
    choices1: Choices
    X2: Array
    P2b: Array
    choices2: Choices
    f: Array
    S: Array


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

    parts > 1 cuts the batch into that many parts, each fed forward and back on a thread of its
    own (NumPy lets go of the GIL inside its loops and products), the loss taken on the whole
    batch's S in between: the same gradient up to the order of float32 sums. The cut depends only
    on N and parts, never on timing, so a run is as repeatable as on one thread. Every matrix
    product runs on one BLAS thread (threads.py says why)."""
    step = _Step(params, I.shape[2])
    cuts = [slice(a[0], a[-1] + 1) for a in np.array_split(np.arange(len(I)), min(parts, len(I)))]
    forwards = _each(step.forward, [I[cut] for cut in cuts])
    S = forwards[0].S if len(cuts) == 1 else np.concatenate([fw.S for fw in forwards])
    loss, dLS = objective(S) if objective is not None else _mean_cross_entropy(S, labels)
    sums = _each(
        lambda fw_dLS: step.backward(*fw_dLS), [(fw, dLS[cut]) for fw, cut in zip(forwards, cuts, strict=True)]
    )
    grads = sums[0] if len(sums) == 1 else {key: sum(part[key] for part in sums) for key in sums[0]}
    return Taught(loss, int((S.argmax(axis=1) == labels).sum()), grads)


_T = TypeVar("_T")
_R = TypeVar("_R")
_POOL: list[ThreadPoolExecutor] = []  # made on first use: a process that trains on one thread starts none


def _each(work: Callable[[_T], _R], items: list[_T]) -> list[_R]:
    """work(item) for every item, in order: the first on this thread, the others on the pool's,
    every one of them on one BLAS thread."""

    def alone(item: _T) -> _R:
        with one_blas_thread():
            return work(item)

    if len(items) == 1:
        return [alone(items[0])]
    if not _POOL or _POOL[0]._max_workers < len(items) - 1:
        _POOL[:] = [ThreadPoolExecutor(len(items) - 1, thread_name_prefix="batch-part")]
    others = [_POOL[0].submit(alone, item) for item in items[1:]]
    return [alone(items[0])] + [future.result() for future in others]
