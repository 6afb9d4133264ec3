"""The network's layers as pure functions, each backward pass beside its forward pass.

Shapes use N for the batch, C for input channels, M for output channels. Every function keeps
the dtype of its input and never mutates its arguments. The equation numbers refer to Son
Nguyen's "A gentle explanation of Backpropagation in Convolutional Neural Network" (2020, "the
article"):
https://medium.com/@ngocson2vn/a-gentle-explanation-of-backpropagation-in-convolutional-neural-network-cnn-1a70abff508b

This is the reference: each function is written the way the article writes its equation.
model/fast/ computes the same numbers faster for training and plain answers, and is tested
against this.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Array = np.ndarray


# --- convolution (a cross-correlation: the kernels are "rotated 180 degrees beforehand") ---


def windows(x: Array, kh: int, kw: int) -> Array:
    """x (N, C, H, W) -> the kh x kw window under every output pixel, (N, C, Ho, Wo, kh, kw): a view, no copy."""
    return sliding_window_view(x, (kh, kw), axis=(2, 3))


def conv2d(x: Array, k: Array, b: Array) -> Array:
    """S[N, m, u, v] = sum_{n,p,q} x[N, n, u+p, v+q] k[m, n, p, q] + b[m]: eqs. (1) and (3).

    x: (N, C, H, W), k: (M, C, kh, kw), b: (M,) -> (N, M, H-kh+1, W-kw+1)
    """
    S = np.tensordot(windows(x, *k.shape[2:]), k, axes=([1, 4, 5], [1, 2, 3]))  # (N, Ho, Wo, M)
    return S.transpose(0, 3, 1, 2) + b[:, None, None]


def conv2d_grad_k(dLS: Array, x: Array) -> Array:
    """dL/dk[m, n, p, q] = sum_{N,u,v} dLS[N, m, u, v] x[N, n, u+p, v+q]: eqs. (50) and (65).

    dLS: (N, M, Ho, Wo), x: (N, C, H, W) -> (M, C, kh, kw)
    """
    Ho, Wo = dLS.shape[2:]
    kh, kw = x.shape[2] - Ho + 1, x.shape[3] - Wo + 1
    return np.tensordot(dLS, windows(x, kh, kw), axes=([0, 2, 3], [0, 2, 3]))


def conv2d_grad_b(dLS: Array) -> Array:
    """dL/db[m] = sum_{N,u,v} dLS[N, m, u, v]: eqs. (47) and (62). (N, M, Ho, Wo) -> (M,)"""
    return dLS.sum(axis=(0, 2, 3))


def conv2d_grad_x(dLS: Array, k: Array) -> Array:
    """dL/dx: eqs. (54)-(56). Each x[n, u+p, v+q] feeds S[m, u, v] through k[m, n, p, q], so its
    gradient is the "full" convolution of dLS with the kernels flipped (rotated 180 degrees), with
    input and output channels swapped: the article's dS2/dP1, never built as a 6-D array.

    dLS: (N, M, Ho, Wo), k: (M, C, kh, kw) -> (N, C, Ho+kh-1, Wo+kw-1)
    """
    kh, kw = k.shape[2:]
    padded = np.pad(dLS, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    flipped = k[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, M, kh, kw)
    return conv2d(padded, flipped, np.zeros(len(flipped), dLS.dtype))


# --- ReLU ---


def relu(S: Array) -> Array:
    """C = ReLU(S): eqs. (1) and (3)."""
    return np.maximum(S, 0)


def relu_grad(dLC: Array, S: Array) -> Array:
    """dL/dS = dL/dC * dC/dS, with dC/dS = 1 where S > 0, else 0: eqs. (44)-(45), (59)-(60)."""
    return dLC * (S > 0)


# --- 2x2 max-pool ---


def pool_windows(C: Array) -> Array:
    """C (N, M, H, W) -> every 2x2 window as its four members (N, M, H//2, W//2, 4), in the order
    (0, 0), (0, 1), (1, 0), (1, 1): the positions 0..3 that the winners I record. An odd side's
    last row or column belongs to no window (PyTorch's floor mode); the article's sides are even."""
    N, M, H, W = C.shape
    h, w = H // 2, W // 2
    return C[:, :, : 2 * h, : 2 * w].reshape(N, M, h, 2, w, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, M, h, w, 4)


def maxpool2(C: Array) -> tuple[Array, Array]:
    """2x2 max-pool, stride 2: eqs. (2) and (4).

    Returns P (N, M, H//2, W//2) and the winners I (same shape, int8): the article's I1/I2 of
    eqs. (42) and (57), stored as the position 0..3 of the maximum inside its window, so
    u_max = 2x + I // 2 and v_max = 2y + I % 2.

    Ties go to the first maximum only (argmax's rule). They are common: after a ReLU whole
    windows are 0, and the gradient of a max must reach exactly one input.
    """
    cells = pool_windows(C)
    I = cells.argmax(axis=-1)
    P = np.take_along_axis(cells, I[..., None], axis=-1)[..., 0]
    return P, I.astype(np.int8)


def maxpool2_grad(dLP: Array, I: Array, side: int) -> Array:
    """dL/dC: dL/dP at each window's winner, 0 elsewhere: eqs. (41)/(43) and (53)/(58). side: C's
    (2h for the article's; an odd side's last row and column, in no window, get 0)."""
    N, M, h, w = dLP.shape
    cells = dLP[..., None] * (np.arange(4) == I[..., None])  # (N, M, h, w, 4): one non-zero per window
    dLC = cells.reshape(N, M, h, w, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, M, 2 * h, 2 * w)
    return dLC if side == 2 * h else np.pad(dLC, ((0, 0), (0, 0), (0, 1), (0, 1)))


# --- fully connected layer, softmax and cross-entropy ---


def dense(f: Array, w: Array, b: Array) -> Array:
    """S_i = sum_j w_ij f_j + b_i: eq. (5). f: (N, 192), w: (10, 192) -> (N, 10) in the article's sizes"""
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
