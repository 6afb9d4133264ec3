"""Answering only: eqs. (1)-(5) up to the scores S, in the memory order that makes pooling cheap.

The feedforward pass of network.py keeps everything backpropagation needs, laid out as the
article draws it. A service answering one drawing at a time needs none of that, and there
most of the time goes to NumPy's per-call overhead on small arrays, not to arithmetic. So an
Inference is built once from a network's parameters and computes the same S in fewer, larger
steps:

- each convolution is still one product X T with the banded kernel matrix T (layers.toeplitz),
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

from .layers import Array


def pooled_band(T: Array, kernel_shape: tuple[int, int, int, int], W: int) -> Array:
    """The band of a banded matrix with columns in the order (v % 2, m, v // 2), as a strided view.

    layers._band with each output column v split into its parity and v // 2: [p, n, q, m, v % 2, v // 2]
    is where k[m, n, p, q] meets output column v, at row (p*C + n)*W + q + v of T. Building T and
    summing its gradient along the band both go through this view, so neither copies T to reorder it.
    """
    M, C, kh, kw = kernel_shape
    half = (W - kw + 1) // 2
    row, s = T.shape[1] * T.itemsize, T.itemsize
    return np.ndarray(
        (kh, C, kw, M, 2, half),
        T.dtype,
        buffer=T,
        strides=(C * W * row, W * row, row, half * s, row + M * half * s, 2 * row + s),
    )


def pooled_toeplitz(k: Array, W: int) -> Array:
    """layers.toeplitz(k, W) with its columns (m, v) in the order (v % 2, m, v // 2): each pooling
    window's two columns in different halves of the product."""
    M, C, kh, kw = k.shape
    T = np.zeros((kh * C * W, M * (W - kw + 1)), dtype=k.dtype)
    pooled_band(T, k.shape, W)[...] = k.transpose(2, 1, 3, 0)[..., None, None]
    return T


def pooled_band_sum(dLT: Array, kernel_shape: tuple[int, int, int, int], W: int) -> Array:
    """The gradient of T = pooled_toeplitz(k, W) -> the gradient of k (layers.band_sum, in this layout)."""
    return pooled_band(np.ascontiguousarray(dLT), kernel_shape, W).sum(axis=(-2, -1)).transpose(3, 1, 0, 2)


def pooled_rows(x: Array, kh: int) -> Array:
    """x (N, H, C*W) -> the patch matrix (N*Ho, kh*C*W) with the rows of each output row u, even u first.

    Row (n, u % 2, u // 2) holds input rows u..u+kh-1 of image n: a contiguous block, read through a
    strided view and copied once.
    """
    N, H, CW = x.shape
    Ho = H - kh + 1
    s = x.itemsize
    blocks = np.ndarray((N, 2, Ho // 2, kh * CW), x.dtype, buffer=x, strides=(H * CW * s, CW * s, 2 * CW * s, s))
    return blocks.reshape(N * Ho, kh * CW)


def permuted_w(w: Array) -> Array:
    """w's columns from the article's f[16m + 4x + y] to the pooled order [x][m][y]."""
    return np.ascontiguousarray(w.reshape(10, 12, 4, 4).transpose(0, 2, 1, 3).reshape(10, 192))


def article_columns_of_w(wP: Array) -> Array:
    """The inverse of permuted_w: columns [x][m][y] back to the article's 16m + 4x + y."""
    return wP.reshape(10, 4, 12, 4).transpose(0, 2, 1, 3).reshape(10, 192)


def pooled_banded(params: dict[str, Array]) -> tuple[Array, Array]:
    """k1 and k2 as banded matrices (pooled_toeplitz), for 28- and 12-column inputs."""
    return pooled_toeplitz(params["k1"][:, None], 28), pooled_toeplitz(params["k2"], 12)


def pooled_product(x: Array, T: Array, kh: int) -> tuple[Array, Array]:
    """x (N, H, C*W) -> its patch matrix X (pooled_rows) and X T as [n, u%2, u//2, v%2, (m, v//2)]."""
    N, H, _ = x.shape
    X = pooled_rows(x, kh)
    return X, (X @ T).reshape(N, 2, (H - kh + 1) // 2, 2, -1)


def _conv_relu_pool(x: Array, T: Array, bias_row: Array, kh: int) -> Array:
    """(N, H, C*W) -> max-pooled ReLU(conv + b) as (N, Ho/2, M*Wo/2): eqs. (1)-(2) or (3)-(4)."""
    A = pooled_product(x, T, kh)[1]
    P = np.maximum(A[:, 0], A[:, 1])  # the two rows of each window
    P = np.maximum(P[:, :, 0], P[:, :, 1])  # and its two columns
    P += bias_row
    return np.maximum(P, 0, out=P)


class Inference:
    """A network's parameters arranged for answering; the scores equal forward(params, I).S."""

    def __init__(self, params: dict[str, Array]) -> None:
        self.T1, self.T2 = pooled_banded(params)  # (140, 144), (360, 96)
        self.bias1 = np.repeat(params["b1"], 12)  # (m, y) of a pooled row
        self.bias2 = np.repeat(params["b2"], 4)
        self.wT = np.ascontiguousarray(permuted_w(params["w"]).T)
        self.b = params["b"]

    def scores(self, I: Array) -> Array:
        """I: (N, 28, 28) valid images -> S: (N, 10)."""
        N = len(I)
        P1 = _conv_relu_pool(np.ascontiguousarray(I), self.T1, self.bias1, 5)  # (N, 12, 6*12): [n, x, m, y]
        P2 = _conv_relu_pool(P1, self.T2, self.bias2, 5)  # (N, 4, 12*4): [n, x, m, y]
        return P2.reshape(N, 192) @ self.wT + self.b  # eq. (5), w's columns permuted to [x, m, y]
