"""The network's layers as pure functions, each backward pass beside its forward pass.

Shapes use N for the batch, C for input channels, M for output channels. Every
function keeps the dtype of its input and never mutates its arguments. The
equation numbers refer to ../shared/seed/backprop-in-cnn.md ("the article").
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

Array = np.ndarray


# --- convolution (a cross-correlation: the kernels are "rotated 180 degrees beforehand") ---
#
# Each convolution is one matrix product, done row by row. Output row u of every map depends on
# input rows u..u+kh-1 of every channel: kh*C*W numbers that lie next to each other in memory once
# the input is stored as (N, H, C, W). Copying those blocks gives the patch matrix X, one row per
# (image, output row); the kernels become a banded (Toeplitz) matrix T that slides each kernel row
# along the input row. Then S = X T + b, eqs. (1) and (3), and the gradients of eqs. (50), (56)
# and (65) are single BLAS calls over the whole batch. That costs a few more multiplications
# than a patch per output pixel (im2col), but moves five to twenty times less memory, which is
# what limits a network this small. The outputs are stored as (N, Ho, M, Wo) and handed out as
# (N, M, Ho, Wo) views without a copy; NumPy's element-wise functions keep that memory order.


class Patches(NamedTuple):
    """The input rows under every output row of a valid convolution, stride 1."""

    X: Array  # (N*Ho, kh*C*W): X[(N, u), (p, n, c)] = x[N, n, u+p, c]
    x_shape: tuple[int, int, int, int]  # (N, C, H, W)
    kernel_size: tuple[int, int]  # (kh, kw)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """(N, Ho, Wo)"""
        N, _, H, W = self.x_shape
        kh, kw = self.kernel_size
        return N, H - kh + 1, W - kw + 1


def rows_of(x: Array, kernel_size: tuple[int, int]) -> Patches:
    """The patch matrix of x (N, C, H, W) for a kh x kw kernel: one contiguous block per output row."""
    N, C, H, W = x.shape
    kh = kernel_size[0]
    Ho = H - kh + 1
    x_hcw = np.ascontiguousarray(x.transpose(0, 2, 1, 3))  # (N, H, C, W): free if already stored so
    s = x_hcw.itemsize
    # Output row u reads rows u..u+kh-1: a block that starts one input row (C*W numbers) after the last.
    blocks = np.ndarray((N, Ho, kh * C * W), x_hcw.dtype, buffer=x_hcw, strides=(H * C * W * s, C * W * s, s))
    return Patches(blocks.reshape(N * Ho, kh * C * W), (N, C, H, W), (kh, kernel_size[1]))


def _band(T: Array, kernel_shape: tuple[int, int, int, int], W: int) -> Array:
    """The band of T as a (kh, C, kw, M, Wo) view: [p, n, q, m, v] is where k[m, n, p, q] meets output column v.

    That element is row (p*C + n)*W + q + v, column m*Wo + v of T, so each index moves it by a
    fixed step through T's memory and the band is a strided view: no index arrays, no copies.
    """
    M, C, kh, kw = kernel_shape
    Wo = W - kw + 1
    row = M * Wo * T.itemsize  # one row of T, in bytes
    s = T.itemsize
    return np.ndarray((kh, C, kw, M, Wo), T.dtype, buffer=T, strides=(C * W * row, W * row, row, Wo * s, row + s))


def toeplitz(k: Array, W: int) -> Array:
    """k (M, C, kh, kw) -> T (kh*C*W, M*Wo), so that (X T)[(N, u), (m, v)] = sum k[m, n, p, q] x[N, n, u+p, q+v]."""
    M, C, kh, kw = k.shape
    T = np.zeros((kh * C * W, M * (W - kw + 1)), dtype=k.dtype)
    _band(T, k.shape, W)[...] = k.transpose(2, 1, 3, 0)[..., None]
    return T


def _maps(rows: Array, N: int, Ho: int, M: int) -> Array:
    """(N*Ho, M*Wo) -> an (N, M, Ho, Wo) view of it."""
    return rows.reshape(N, Ho, M, -1).transpose(0, 2, 1, 3)


def _rows(dLS: Array) -> Array:
    """(N, M, Ho, Wo) -> (N*Ho, M*Wo); free when dLS is stored as _maps leaves it."""
    N, M, Ho, Wo = dLS.shape
    return dLS.transpose(0, 2, 1, 3).reshape(N * Ho, M * Wo)


def conv(patches: Patches, T: Array, b: Array) -> Array:
    """S[N, m, u, v] = sum_{n,p,q} x[N, n, u+p, v+q] k[m, n, p, q] + b[m]: eqs. (1) and (3).

    T: toeplitz(k, W) of the kernels k (M, C, kh, kw), b: (M,) -> (N, M, Ho, Wo)
    """
    N, Ho, Wo = patches.out_shape
    S = patches.X @ T
    S += np.repeat(b, Wo)
    return _maps(S, N, Ho, len(b))


def conv2d(x: Array, k: Array, b: Array) -> Array:
    """Valid cross-correlation, stride 1, eqs. (1) and (3). x: (N, C, H, W) -> (N, M, H-kh+1, W-kw+1)"""
    return conv(rows_of(x, k.shape[2:]), toeplitz(k, x.shape[3]), b)


def conv2d_grad_k(dLS: Array, patches: Patches) -> Array:
    """dL/dk[m, n, p, q] = sum_{N,u,v} dLS[N, m, u, v] x[N, n, u+p, v+q]: eqs. (50) and (65).

    dLS: (N, M, Ho, Wo) -> (M, C, kh, kw): the gradient of T, X^T dLS, summed along each band.
    """
    M, C = dLS.shape[1], patches.x_shape[1]
    return band_sum(patches.X.T @ _rows(dLS), (M, C, *patches.kernel_size), patches.x_shape[3])


def band_sum(dLT: Array, kernel_shape: tuple[int, int, int, int], W: int) -> Array:
    """The gradient of a banded matrix T = toeplitz(k, W) -> the gradient of k: each weight k[m, n, p, q]
    appears once per output column along T's band, so its gradient is the sum along that band."""
    return _band(np.ascontiguousarray(dLT), kernel_shape, W).sum(axis=-1).transpose(3, 1, 0, 2)


def conv2d_grad_b(dLS: Array) -> Array:
    """dL/db[m] = sum_{N,u,v} dLS[N, m, u, v]: eqs. (47) and (62). (N, M, Ho, Wo) -> (M,)"""
    N, M, Ho, Wo = dLS.shape
    return _rows(dLS).sum(axis=0).reshape(M, Wo).sum(axis=1)  # summed in memory order: 5x faster


def conv2d_grad_x(dLS: Array, k: Array, x_shape: tuple[int, int, int, int]) -> Array:
    """dL/dx: eq. (54)/(56), without the article's 6-D dS2P1 array.

    Each x[n, u+p, v+q] feeds S[m, u, v] through k[m, n, p, q]: so the gradient of the patch
    matrix is dLS T^T (one matrix product), and each input row collects the gradients of the
    kh blocks it appears in (a sum over the kernel's rows, not over pixels or images).

    dLS: (N, M, Ho, Wo), k: (M, C, kh, kw) -> (N, C, H, W)
    """
    N, C, H, W = x_shape
    kh = k.shape[2]
    Ho = dLS.shape[2]
    dLX = (_rows(dLS) @ toeplitz(k, W).T).reshape(N, Ho, kh, C * W)
    dx = np.zeros((N, H, C * W), dtype=dLX.dtype)
    for p in range(kh):
        dx[:, p : p + Ho] += dLX[:, :, p]
    return dx.reshape(N, H, C, W).transpose(0, 2, 1, 3)


# --- ReLU ---


def relu(S: Array) -> Array:
    """C = ReLU(S): eqs. (1) and (3)."""
    return np.maximum(S, 0)


def relu_grad(dLC: Array, S: Array) -> Array:
    """dL/dS = dL/dC * dC/dS, with dC/dS = 1 where S > 0, else 0: eqs. (44)-(45), (59)-(60)."""
    return dLC * (S > 0)


# --- 2x2 max-pool ---


def _corners(C: Array) -> tuple[Array, Array, Array, Array]:
    """The four members of every 2x2 window, in the order 0..3 of the winners I: strided views."""
    return C[:, :, 0::2, 0::2], C[:, :, 0::2, 1::2], C[:, :, 1::2, 0::2], C[:, :, 1::2, 1::2]


def maxpool2(C: Array) -> tuple[Array, Array]:
    """2x2 max-pool, stride 2: eqs. (2) and (4).

    Returns P (N, M, H/2, W/2) and the winners I (same shape, int8): the article's
    I1/I2 of eqs. (42) and (57), stored as the position 0..3 of the maximum inside
    its window, so u_max = 2x + I // 2 and v_max = 2y + I % 2.

    Ties go to the first maximum only. They are common: after a ReLU whole windows
    are 0, and the gradient of a max must reach exactly one input.
    """
    return max_and_winners(_corners(C))


def max_and_winners(corners: tuple[Array, Array, Array, Array]) -> tuple[Array, Array]:
    """The four members of every window (in the order 0..3) -> their maximum P and its position I (int8).

    The first maximum wins: the bottom row only if it beats the top, the right one only if it beats
    the left. Bit operations on bools, because np.where is several times slower here.
    """
    c0, c1, c2, c3 = corners
    top, bottom = np.maximum(c0, c1), np.maximum(c2, c3)
    P = np.maximum(top, bottom)
    down, left_right, right_beats_left = bottom > top, c1 > c0, c3 > c2
    right = left_right ^ ((left_right ^ right_beats_left) & down)  # the chosen row's column
    return P, (down.view(np.int8) << 1) | right.view(np.int8)


def maxpool2_grad(dLP: Array, I: Array) -> Array:
    """dL/dC: dL/dP at each window's winner, 0 elsewhere: eqs. (41)/(43) and (53)/(58)."""
    N, M, h, w = dLP.shape
    # Stored in the forward pass's memory order (I's), so that every operation runs along memory.
    dLP = _like(I, dLP)
    dLC = np.empty_like(I, dtype=dLP.dtype, shape=(N, M, 2 * h, 2 * w))
    to_winners(dLP, I, _corners(dLC))
    return dLC


def to_winners(dLP: Array, I: Array, corners: tuple[Array, Array, Array, Array]) -> None:
    """Write dLP into the corner of each window that won (I), and 0 into the other three."""
    for corner, out in enumerate(corners):
        np.multiply(dLP, I == corner, out=out)


def _like(reference: Array, a: Array) -> Array:
    """a, stored in reference's memory order (a copy only if it is not already)."""
    if a.strides == tuple(s * a.itemsize // reference.itemsize for s in reference.strides):
        return a
    out = np.empty_like(reference, dtype=a.dtype)
    out[...] = a
    return out


# --- fully connected layer, softmax and cross-entropy ---


def dense(f: Array, w: Array, b: Array) -> Array:
    """S_i = sum_j w_ij f_j + b_i: eq. (5). f: (N, 192), w: (10, 192) -> (N, 10)"""
    return f @ w.T + b


def softmax(S: Array) -> Array:
    """O_i = e^{S_i} / sum_k e^{S_k}: eq. (5), shifted by max S so that exp never overflows."""
    Z = np.exp(S - S.max(axis=1, keepdims=True))
    return Z / Z.sum(axis=1, keepdims=True)


def log_softmax(S: Array) -> Array:
    """ln O_i = S_i - ln sum_k e^{S_k}, computed from S (shifted by max S) and never from O."""
    Z = S - S.max(axis=1, keepdims=True)
    return Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))


def cross_entropy(S: Array, labels: Array) -> Array:
    """L = -ln O_label, eq. (6), per image, from the scores S via a stable log-softmax.

    Computing ln O from S (not from O) keeps L finite when O_label underflows to 0.
    """
    return -log_softmax(S)[np.arange(len(S)), labels]


def softmax_cross_entropy_grad(O: Array, labels: Array) -> Array:
    """dL/dS_i = O_i - [i = label]: eq. (23), divided by N for the batch mean."""
    dLS = O.copy()
    dLS[np.arange(len(O)), labels] -= 1
    return dLS / len(O)
