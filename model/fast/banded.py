"""The banded convolution: each convolution as one matrix product, and the pooling order of its columns.

The reference (model/layers.py) computes eqs. (1) and (3) as the article writes them: the window
of the input under every output pixel, contracted with the kernels. Here the same sums are laid
out for speed. Output row u of every map depends on input rows u..u+kh-1 of every channel:
kh*C*W numbers that lie next to each other in memory once the input is stored as (N, H, C, W).
Copying those blocks gives the patch matrix X, one row per (image, output row); the kernels
become a banded (Toeplitz) matrix T that slides each kernel row along the input row. Then
S = X T + b is one BLAS call over the whole batch, and so are the gradients of eqs. (50), (56)
and (65). That costs a few more multiplications than a patch per output pixel (im2col), but
moves far less memory, which is what limits a network this small.

The products' rows and columns are then ordered so that the four members of every 2x2 pooling
window fall in different quarters (even rows and columns first): the max-pool becomes a few
np.maximum of contiguous halves, and its winners come from bit operations on whole arrays.

A whole row's band is mostly zeros where the kernel is narrow against the row: 5 taps of 28
inputs in the first layer. Training cuts that layer's output columns into blocks (block_patches,
block_toeplitz): each block's band spans only the input columns it reads, and even and odd output
columns are two products, so each pooling corner is a contiguous quarter of the rows.
tests/test_fast.py checks every function here against the reference.
"""

from __future__ import annotations

import numpy as np

from ..architecture import IMAGE_SHAPE, Architecture
from ..layers import Array


def rows_of(x: Array, kh: int) -> Array:
    """The patch matrix of x (N, H, R), rows of R numbers, for a kernel of kh rows: (N*Ho, kh*R), one
    contiguous block per output row: X[(n, u), (p, r)] = x[n, u+p, r]. Ho is the even number of
    output rows the max-pool reads (pooled_side): an odd side's last row is in no window."""
    N, H, R = x.shape
    Ho = 2 * pooled_side(H, kh)
    x = np.ascontiguousarray(x)
    s = x.itemsize
    # Output row u reads rows u..u+kh-1: a block that starts one input row (R numbers) after the last.
    blocks = np.ndarray((N, Ho, kh * R), x.dtype, buffer=x, strides=(H * R * s, R * s, s))
    return blocks.reshape(N * Ho, kh * R)


def pooled_side(side: int, kernel: int) -> int:
    """The side of the max-pooled maps of a convolution over maps of this side: (side - kernel + 1) // 2."""
    return (side - kernel + 1) // 2


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


def pooled_band(T: Array, kernel_shape: tuple[int, int, int, int], W: int) -> Array:
    """The band of a banded matrix with columns in the order (v % 2, m, v // 2), as a strided view.

    layers._band with each output column v split into its parity and v // 2: [p, n, q, m, v % 2, v // 2]
    is where k[m, n, p, q] meets output column v, at row (p*C + n)*W + q + v of T. Building T and
    summing its gradient along the band both go through this view, so neither copies T to reorder it.
    """
    M, C, kh, kw = kernel_shape
    half = pooled_side(W, kw)
    row, s = T.shape[1] * T.itemsize, T.itemsize
    return np.ndarray(
        (kh, C, kw, M, 2, half),
        T.dtype,
        buffer=T,
        strides=(C * W * row, W * row, row, half * s, row + M * half * s, 2 * row + s),
    )


def pooled_toeplitz(k: Array, W: int) -> Array:
    """layers.toeplitz(k, W) with its columns (m, v) in the order (v % 2, m, v // 2): each pooling
    window's two columns in different halves of the product. An odd number of output columns loses
    its last, which is in no window."""
    M, C, kh, kw = k.shape
    T = np.zeros((kh * C * W, M * 2 * pooled_side(W, kw)), dtype=k.dtype)
    pooled_band(T, k.shape, W)[...] = k.transpose(2, 1, 3, 0)[..., None, None]
    return T


def pooled_band_sum(dLT: Array, kernel_shape: tuple[int, int, int, int], W: int) -> Array:
    """The gradient of T = pooled_toeplitz(k, W) -> the gradient of k (layers.band_sum, in this layout)."""
    return pooled_band(np.ascontiguousarray(dLT), kernel_shape, W).sum(axis=(-2, -1)).transpose(3, 1, 0, 2)


def block_half(pooled: int) -> int:
    """The pooled columns of one column block of the first layer (block_patches): the divisor of its
    pooled side nearest 4 (4 for the article's 12: blocks of 8 output columns), or the whole side if
    none lies in 2..8. Narrower blocks multiply fewer zeros but make narrower, slower products."""
    near = [d for d in range(2, 9) if pooled % d == 0] or [pooled]
    return min(near, key=lambda d: (abs(d - 4), -d))


def block_patches(I: Array, kh: int, half: int) -> Array:
    """Images I (N, H, W) -> the first layer's patch matrix in column blocks: (2*N*Hp*nb, kh*Win).

    Output columns are cut into nb blocks of 2*half, each reading Win = 2*half + kh - 1 input columns
    (kernels are square: kh is also their width); a block's band spans Win inputs instead of the
    row's W, so the products multiply about Win/W as many numbers, 12/28 for the article's network.
    Row (u % 2, n, u // 2, j) holds rows u..u+kh-1 of block j of image n, so
    that each quarter of the product is one pooling corner, contiguous, with its rows in P1's order
    (n, x, j). Two copies: the blocks side by side (N, nb, H, Win), then its rows' windows.
    """
    N, H, W = I.shape
    Hp, nb, Win = pooled_side(H, kh), pooled_side(W, kh) // half, 2 * half + kh - 1
    I = np.ascontiguousarray(I)
    s = I.itemsize
    blocks = np.ascontiguousarray(
        np.ndarray((N, nb, H, Win), I.dtype, buffer=I, strides=(H * W * s, 2 * half * s, W * s, s))
    )
    windows = np.ndarray(
        (2, N, Hp, nb, kh * Win),
        I.dtype,
        buffer=blocks,
        strides=(Win * s, nb * H * Win * s, 2 * Win * s, H * Win * s, s),
    )
    return np.ascontiguousarray(windows).reshape(-1, kh * Win)


def _block_band(T: Array, kernel_shape: tuple[int, int, int], half: int) -> Array:
    """The band of block_toeplitz's T (2, kh*Win, M*half) as a strided (2, kh, kw, M, half) view:
    [v % 2, p, q, m, v // 2] is where k[m, p, q] meets the block's output column v, at row p*Win + q + v."""
    M, kh, kw = kernel_shape
    Win = 2 * half + kw - 1
    row, s = T.shape[2] * T.itemsize, T.itemsize
    return np.ndarray(
        (2, kh, kw, M, half),
        T.dtype,
        buffer=T,
        strides=(T.strides[0] + row, Win * row, row, half * s, 2 * row + s),
    )


def block_toeplitz(k: Array, half: int) -> Array:
    """k (M, kh, kw), one input channel -> T (2, kh*Win, M*half): T[v % 2] is the band of a column
    block's even or odd output columns, (block_patches(I) @ T[b])[r, (m, v // 2)] their sums."""
    M, kh, kw = k.shape
    T = np.zeros((2, kh * (2 * half + kw - 1), M * half), dtype=k.dtype)
    _block_band(T, k.shape, half)[...] = k.transpose(1, 2, 0)[None, ..., None]
    return T


def block_band_sum(dLT: Array, kernel_shape: tuple[int, int, int], half: int) -> Array:
    """The gradient of T = block_toeplitz(k, half) -> the gradient of k (M, kh, kw)."""
    return _block_band(np.ascontiguousarray(dLT), kernel_shape, half).sum(axis=(0, 4)).transpose(2, 0, 1)


def rows_in_block_order(T: Array, kh: int, C: int, nb: int, half: int) -> Array:
    """T's rows (p, c, y) -> (p, j, c, y % half) with y = j*half + y % half: the next layer's banded
    matrix for inputs stored in column blocks, as the first layer leaves them; rows_in_map_order
    takes a gradient of it back."""
    return T.reshape(kh, C, nb, half, -1).transpose(0, 2, 1, 3, 4).reshape(T.shape)


def rows_in_map_order(T: Array, kh: int, C: int, nb: int, half: int) -> Array:
    """The inverse of rows_in_block_order: rows (p, j, c, y % half) back to (p, c, y)."""
    return T.reshape(kh, nb, C, half, -1).transpose(0, 2, 1, 3, 4).reshape(T.shape)


def pooled_rows(x: Array, kh: int) -> Array:
    """x (N, H, C*W) -> the patch matrix (N*Ho, kh*C*W) with the rows of each output row u, even u first.

    Row (n, u % 2, u // 2) holds input rows u..u+kh-1 of image n: a contiguous block, read through a
    strided view and copied once.
    """
    N, H, CW = x.shape
    half = pooled_side(H, kh)  # an odd number of output rows loses its last, which is in no window
    s = x.itemsize
    blocks = np.ndarray((N, 2, half, kh * CW), x.dtype, buffer=x, strides=(H * CW * s, CW * s, 2 * CW * s, s))
    return blocks.reshape(N * 2 * half, kh * CW)


def permuted_w(w: Array, architecture: Architecture) -> Array:
    """w's columns from the article's f[16m + 4x + y] to the pooled order [x][m][y]."""
    n2, side = architecture.n2, architecture.sides[3]
    return np.ascontiguousarray(w.reshape(len(w), n2, side, side).transpose(0, 2, 1, 3).reshape(w.shape))


def article_columns_of_w(wP: Array, architecture: Architecture) -> Array:
    """The inverse of permuted_w: columns [x][m][y] back to the article's 16m + 4x + y."""
    n2, side = architecture.n2, architecture.sides[3]
    return wP.reshape(len(wP), side, n2, side).transpose(0, 2, 1, 3).reshape(wP.shape)


def pooled_banded(params: dict[str, Array], architecture: Architecture) -> tuple[Array, Array]:
    """k1 and k2 as banded matrices (pooled_toeplitz), for inputs of 28 and P1's side columns:
    (140, 144) and (360, 96) for the article's network."""
    P1_side = architecture.sides[1]
    return pooled_toeplitz(params["k1"][:, None], IMAGE_SHAPE[1]), pooled_toeplitz(params["k2"], P1_side)


def pooled_product(x: Array, T: Array, kh: int) -> tuple[Array, Array]:
    """x (N, H, C*W) -> its patch matrix X (pooled_rows) and X T as [n, u%2, u//2, v%2, (m, v//2)]."""
    N, H, _ = x.shape
    X = pooled_rows(x, kh)
    return X, (X @ T).reshape(N, 2, pooled_side(H, kh), 2, -1)


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


def to_winners(dLP: Array, I: Array, corners: tuple[Array, Array, Array, Array]) -> None:
    """Write dLP into the corner of each window that won (I), and 0 into the other three."""
    for corner, out in enumerate(corners):
        np.multiply(dLP, I == corner, out=out)
