"""Each vectorised layer against a plain loop, and each layer gradient against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from model.layers import (
    conv2d,
    conv2d_grad_b,
    conv2d_grad_k,
    conv2d_grad_x,
    cross_entropy,
    maxpool2,
    maxpool2_grad,
    relu,
    relu_grad,
    softmax,
    softmax_cross_entropy_grad,
)
from tests.numeric import numeric_grad, relative_error

GRAD_RTOL = 1e-6


def conv2d_loops(x, k, b):
    N, C, H, W = x.shape
    M, _, kh, kw = k.shape
    S = np.zeros((N, M, H - kh + 1, W - kw + 1))
    for N_, m, u, v in np.ndindex(S.shape):
        S[N_, m, u, v] = (x[N_, :, u : u + kh, v : v + kw] * k[m]).sum() + b[m]
    return S


def test_conv2d_matches_loops(rng):
    x, k, b = rng.normal(size=(2, 3, 9, 8)), rng.normal(size=(4, 3, 5, 3)), rng.normal(size=4)
    assert np.allclose(conv2d(x, k, b), conv2d_loops(x, k, b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_keep_dtype(rng, dtype):
    x, k, b = (a.astype(dtype) for a in (rng.random((2, 1, 28, 28)), rng.normal(size=(6, 1, 5, 5)), np.zeros(6)))
    S = conv2d(x, k, b)
    P, I = maxpool2(relu(S))
    assert S.dtype == P.dtype == dtype
    assert conv2d_grad_x(S, k).dtype == conv2d_grad_k(S, x).dtype == dtype
    assert softmax(rng.normal(size=(3, 10)).astype(dtype)).dtype == dtype


def test_conv2d_gradients_match_numeric(rng):
    x, k, b = rng.normal(size=(2, 3, 7, 7)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4)
    G = rng.normal(size=(2, 4, 5, 5))  # L = sum(S * G)  =>  dL/dS = G
    loss = lambda: float((conv2d(x, k, b) * G).sum())  # noqa: E731
    assert relative_error(conv2d_grad_k(G, x), numeric_grad(loss, k)) < GRAD_RTOL
    assert relative_error(conv2d_grad_b(G), numeric_grad(loss, b)) < GRAD_RTOL
    assert relative_error(conv2d_grad_x(G, k), numeric_grad(loss, x)) < GRAD_RTOL


def test_conv2d_handles_inputs_stored_in_any_order(rng):
    x, k, b = rng.normal(size=(2, 3, 9, 8)), rng.normal(size=(4, 3, 5, 3)), rng.normal(size=4)
    for stored in (x, np.asfortranarray(x), x.transpose(0, 2, 1, 3).copy().transpose(0, 2, 1, 3), x[:, ::-1][:, ::-1]):
        assert np.allclose(conv2d(stored, k, b), conv2d_loops(x, k, b), rtol=1e-12, atol=1e-12)


def test_relu_and_its_gradient_leave_inputs_alone(rng):
    S = rng.normal(size=(2, 3, 4, 4))
    S_before = S.copy()
    C = relu(S)
    assert np.array_equal(C, np.where(S > 0, S, 0))
    dLC = rng.normal(size=S.shape)
    assert np.array_equal(relu_grad(dLC, S), np.where(S > 0, dLC, 0))
    assert np.array_equal(S, S_before)


def test_maxpool_picks_each_window_max_and_remembers_where(rng):
    C = rng.normal(size=(2, 3, 8, 6))
    P, I = maxpool2(C)
    assert P.shape == I.shape == (2, 3, 4, 3)
    for n, m, x, y in np.ndindex(P.shape):
        window = C[n, m, 2 * x : 2 * x + 2, 2 * y : 2 * y + 2]
        assert P[n, m, x, y] == window.max()
        u_max, v_max = 2 * x + I[n, m, x, y] // 2, 2 * y + I[n, m, x, y] % 2  # eq. (42)
        assert C[n, m, u_max, v_max] == window.max()


def test_maxpool_gradient_goes_to_exactly_one_winner_even_on_ties():
    C = np.zeros((1, 1, 4, 4))  # windows tied at 0, as after a ReLU...
    C[0, 0, 3, 2] = 1.0  # ...but for the bottom-right one, which has a clear max
    P, I = maxpool2(C)
    dLC = maxpool2_grad(np.ones_like(P), I, 4)
    assert dLC.sum() == 4  # one unit per window, never split or duplicated
    assert dLC[0, 0, 3, 2] == 1  # the clear winner
    assert dLC[0, 0, 0, 0] == dLC[0, 0, 0, 2] == dLC[0, 0, 2, 0] == 1  # ties: the first cell of the window


def test_maxpool_gradient_matches_numeric(rng):
    C = rng.normal(size=(2, 2, 6, 6))  # distinct values: no ties, so the max is differentiable
    G = rng.normal(size=(2, 2, 3, 3))
    _, I = maxpool2(C)
    numeric = numeric_grad(lambda: float((maxpool2(C)[0] * G).sum()), C)
    assert relative_error(maxpool2_grad(G, I, 6), numeric) < GRAD_RTOL


def test_softmax_rows_sum_to_one_and_survive_huge_scores():
    S = np.array([[1000.0, 0.0, -1000.0] + [0.0] * 7, [1.0] * 10, [-800.0] * 10])
    O = softmax(S)
    assert np.isfinite(O).all()
    assert np.allclose(O.sum(axis=1), 1.0)
    assert O[0, 0] == pytest.approx(1.0)
    assert np.allclose(O[1], 0.1)


def test_cross_entropy_is_finite_when_the_label_is_hopeless():
    S = np.array([[1000.0] + [0.0] * 9])
    L = cross_entropy(S, np.array([1]))
    assert L[0] == pytest.approx(1000.0)  # -ln O_1 = 1000 exactly, although O_1 underflows to 0


def test_softmax_cross_entropy_gradient_is_eq_23_over_n(rng):
    S, labels = rng.normal(size=(3, 10)), np.array([2, 0, 9])
    numeric = numeric_grad(lambda: float(cross_entropy(S, labels).mean()), S)
    analytic = softmax_cross_entropy_grad(softmax(S), labels)
    assert relative_error(analytic, numeric) < GRAD_RTOL


def test_maxpool_over_an_odd_side_leaves_the_last_row_and_column_out(rng):
    C = rng.normal(size=(2, 3, 5, 5))  # PyTorch's floor mode: windows cover rows and columns 0..3
    P, I = maxpool2(C)
    assert np.array_equal(P, maxpool2(C[:, :, :4, :4])[0])
    G = rng.normal(size=P.shape)
    numeric = numeric_grad(lambda: float((maxpool2(C)[0] * G).sum()), C)
    dLC = maxpool2_grad(G, I, 5)
    assert dLC.shape == C.shape and not dLC[:, :, 4].any() and not dLC[:, :, :, 4].any()
    assert relative_error(dLC, numeric) < GRAD_RTOL
