"""Answering only: eqs. (1)-(5) up to the scores S, in the memory order that makes pooling cheap.

The feedforward pass of network.py keeps everything backpropagation needs, laid out as the
article draws it. A service answering one drawing at a time needs none of that, and there
most of the time goes to NumPy's per-call overhead on small arrays, not to arithmetic. So an
Inference is built once from a network's parameters and computes the same S in fewer, larger
steps:

- each convolution is still one product X T with the banded kernel matrix T (banded.toeplitz),
  but X's rows (output rows u) are ordered even u first, then odd u, and T's columns (output
  columns v) even v first, then odd v. Every 2x2 window then has one member in each quarter
  of the product, and the max-pool of eqs. (2) and (4) is two np.maximum of halves;
- the bias and the ReLU come after the pooling: a window's maximum plus its map's bias is the
  maximum of the biased values, and ReLU never changes which value is largest. So eq. (1)'s
  "+ b1" and "ReLU" run on an array 4x smaller;
- the pooled maps come out as (N, rows, channels, columns), which is the memory order the next
  convolution's row blocks read, so no transpose is ever copied;
- P2 comes out as [x][m][y], not the article's f[16m + 4x + y]; the columns of w are permuted
  to match once, here, instead of permuting f on every call.
"""

from __future__ import annotations

import numpy as np

from ..architecture import Architecture
from ..layers import Array
from .banded import permuted_w, pooled_banded, pooled_product


def _conv_relu_pool(x: Array, T: Array, bias_row: Array, kh: int) -> Array:
    """(N, H, C*W) -> max-pooled ReLU(conv + b) as (N, Ho/2, M*Wo/2): eqs. (1)-(2) or (3)-(4)."""
    A = pooled_product(x, T, kh)[1]
    P = np.maximum(A[:, 0], A[:, 1])  # the two rows of each window
    P = np.maximum(P[:, :, 0], P[:, :, 1])  # and its two columns
    P += bias_row
    return np.maximum(P, 0, out=P)


def _conv_relu(x: Array, T: Array, bias_row: Array, kh: int) -> Array:
    """(N, H, C*W) -> ReLU(conv + b) in the product's layout [n, u%2, u//2, v%2, (m, v//2)]: eqs. (1), (3)."""
    A = pooled_product(x, T, kh)[1]
    return np.maximum(A + bias_row, 0)


def _pool(C: Array) -> Array:
    """_conv_relu's layout -> the 2x2 max-pool as (N, Ho/2, M*Wo/2): eqs. (2), (4)."""
    P = np.maximum(C[:, 0], C[:, 1])
    return np.maximum(P[:, :, 0], P[:, :, 1])


def _article_maps(C: Array, M: int) -> Array:
    """[n, u%2, u//2, v%2, (m, v//2)] -> the article's (N, M, Ho, Wo)."""
    N, _, h, _, cols = C.shape
    return C.reshape(N, 2, h, 2, M, cols // M).transpose(0, 4, 2, 1, 5, 3).reshape(N, M, 2 * h, -1)


def _article_pooled(P: Array, M: int) -> Array:
    """[n, x, (m, y)] -> the article's (N, M, Ho/2, Wo/2)."""
    N, h, cols = P.shape
    return P.reshape(N, h, M, cols // M).transpose(0, 2, 1, 3)


class Inference:
    """A network's parameters arranged for answering; the scores equal forward(params, I).S."""

    def __init__(self, params: dict[str, Array]) -> None:
        self.architecture = arch = Architecture.of_params(params)
        self.T1, self.T2 = pooled_banded(params, arch)  # (140, 144), (360, 96)
        self.bias1 = np.repeat(params["b1"], arch.sides[1])  # (m, y) of a pooled row: 12 for the article's
        self.bias2 = np.repeat(params["b2"], arch.sides[3])  # 4
        self.wT = np.ascontiguousarray(permuted_w(params["w"], arch).T)
        self.b = params["b"]

    def scores(self, I: Array) -> Array:
        """I: (N, 28, 28) valid images -> S: (N, 10)."""
        N, k = len(I), self.architecture.k
        P1 = _conv_relu_pool(np.ascontiguousarray(I), self.T1, self.bias1, k)  # (N, 12, 6*12): [n, x, m, y]
        P2 = _conv_relu_pool(P1, self.T2, self.bias2, k)  # (N, 4, 12*4): [n, x, m, y]
        return P2.reshape(N, -1) @ self.wT + self.b  # eq. (5), w's columns permuted to [x, m, y]

    def feature_maps(self, I: Array) -> dict[str, Array]:
        """I: (N, 28, 28) valid images -> the article's C1, P1, C2, P2 and S, equal to forward(params, I)'s.

        C1 and C2 as far as the max-pool reads them: whole where their sides are even (the article's)."""
        N, (n1, n2, k) = len(I), self.architecture
        C1 = _conv_relu(np.ascontiguousarray(I), self.T1, self.bias1, k)
        P1 = _pool(C1)  # (N, 12, 6*12): [n, x, m, y]
        C2 = _conv_relu(P1, self.T2, self.bias2, k)
        P2 = _pool(C2)  # (N, 4, 12*4)
        S = P2.reshape(N, -1) @ self.wT + self.b
        return {
            "C1": _article_maps(C1, n1),
            "P1": _article_pooled(P1, n1),
            "C2": _article_maps(C2, n2),
            "P2": _article_pooled(P2, n2),
            "S": S,
        }
