"""model/fast/ against the reference (model/network.py, model/layers.py): the same winners on ties,
the same probabilities and every gradient to 1e-10 in float64; and everything still works with the
fast path switched off (CNN_FAST=0)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import model
from model import fast
from model.fast.banded import block_band_sum, block_half, block_patches, block_toeplitz, max_and_winners, pooled_side
from model.layers import conv2d, conv2d_grad_k, maxpool2, pool_windows
from model.network import batch_gradients, forward, mean_loss
from model.training.objectives import objective
from tests.conftest import ROOT
from tests.numeric import numeric_grad, relative_error

GRAD_RTOL = 1e-6


def test_the_bit_operation_winners_are_argmaxs_first_maximum():
    rng = np.random.default_rng(0)
    C = rng.integers(0, 3, (64, 3, 8, 8)).astype(np.float64)  # three values: ties everywhere
    cells = pool_windows(C)
    P, I = max_and_winners(tuple(cells[..., i] for i in range(4)))  # type: ignore[arg-type]
    P_ref, I_ref = maxpool2(C)
    assert np.array_equal(P, P_ref) and np.array_equal(I, I_ref)


@pytest.mark.parametrize("side, kernel", [(28, 5), (28, 3), (20, 5), (16, 4)])
def test_the_first_layer_in_column_blocks_is_the_reference_convolution_and_its_kernel_gradient(side, kernel):
    """Every block width block_half picks (4 of 12 pooled columns; the whole row for 13; 4 of 8;
    3 of 6, an odd output row dropped): each quarter of the blocked products is one pooling corner
    of the reference's C1, and the band's gradient sums back to conv2d_grad_k's."""
    rng = np.random.default_rng(side + kernel)
    images, k = rng.random((3, side, side)), rng.normal(size=(6, kernel, kernel))
    pooled = pooled_side(side, kernel)
    half = block_half(pooled)
    blocks = pooled // half
    X, T = block_patches(images, kernel, half), block_toeplitz(k, half)
    S = conv2d(images[:, None], k[:, None], np.zeros(6))[:, :, : 2 * pooled, : 2 * pooled]  # the pooled rows

    def corner(Z: np.ndarray, a: int, b: int) -> np.ndarray:
        """Z (N, M, u, v)'s corner (u % 2, v % 2) as the products hold it: rows (n, u // 2, j), cols (m, v // 2)."""
        return Z[:, :, a::2, b::2].reshape(3, 6, pooled, blocks, half).transpose(0, 2, 3, 1, 4).reshape(-1, 6 * half)

    for b in range(2):
        assert np.allclose(X @ T[b], np.concatenate([corner(S, a, b) for a in range(2)]), rtol=1e-12, atol=1e-12)
    dLS = rng.normal(size=S.shape)
    dLT = np.stack([X.T @ np.concatenate([corner(dLS, a, b) for a in range(2)]) for b in range(2)])
    read = images[:, None, : 2 * pooled + kernel - 1, : 2 * pooled + kernel - 1]  # what the pooled rows read
    assert np.allclose(block_band_sum(dLT, k.shape, half), conv2d_grad_k(dLS, read)[:, 0], rtol=1e-10)


def test_answers_equal_the_reference_to_1e_10(batch):
    net, images, _ = batch
    assert np.allclose(fast.Inference(net.params).scores(images), forward(net.params, images).S, rtol=1e-10, atol=1e-12)
    assert np.allclose(net.frozen().predict_proba(images), forward(net.params, images).O, rtol=1e-10, atol=1e-14)


def test_feature_maps_equal_the_references_to_1e_10(batch):
    net, images, _ = batch
    maps, fw = fast.Inference(net.params).feature_maps(images), forward(net.params, images)
    for name in ("C1", "P1", "C2", "P2", "S"):
        assert maps[name].shape == getattr(fw, name).shape, name
        assert np.allclose(maps[name], getattr(fw, name), rtol=1e-10, atol=1e-12), name
    one = net.feature_maps(images[1])
    assert np.allclose(one["O"], fw.O[1], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("count", [1, 5, 64])
def test_training_gives_the_references_loss_and_every_gradient_to_1e_10(batch, count):
    net, _, _ = batch
    rng = np.random.default_rng(count)
    images, labels = rng.random((count, 28, 28)), rng.integers(0, 10, count)
    images[:, :, :10] = 0  # blank columns: max-pool windows tied at 0 in both layers
    reference, taught = (
        batch_gradients(net.params, images, labels),
        fast.batch_gradients(net.params, images, labels),
    )
    assert taught.loss == pytest.approx(reference.loss, rel=1e-12) and taught.correct == reference.correct
    for name, grad in reference.grads.items():
        assert np.allclose(taught.grads[name], grad, rtol=1e-10, atol=1e-14), name


@pytest.mark.parametrize(
    "arch", [model.Architecture(2, 3, 1), model.Architecture(3, 5, 4), model.Architecture(4, 2, 9)]
)
def test_other_sizes_train_with_the_references_gradients_whole_and_in_parts(arch):
    """Sizes whose first layer falls into other column blocks than the article's: 7 blocks of 2
    pooled columns (k=1), 3 of 4 with an odd 25th output row dropped (k=4), 2 of 5 (k=9)."""
    net = model.CNN.random(seed=1, dtype=np.float64, architecture=arch)
    rng = np.random.default_rng(arch.k)
    for bias in ("b1", "b2", "b"):
        net.params[bias][:] = rng.normal(0, 0.1, net.params[bias].shape)
    images, labels = rng.random((7, 28, 28)), rng.integers(0, 10, 7)
    images[:, 8:16, 8:16] = 1.0  # saturated: equal sums, ties in both max-pools
    reference = batch_gradients(net.params, images, labels)
    for parts in (1, 3):
        taught = fast.batch_gradients(net.params, images, labels, parts=parts)
        assert taught.loss == pytest.approx(reference.loss, rel=1e-12)
        for name, grad in reference.grads.items():
            assert np.allclose(taught.grads[name], grad, rtol=1e-10, atol=1e-14), (name, parts)


@pytest.mark.parametrize("count, parts", [(64, 2), (7, 3), (1, 2)])
def test_a_batch_cut_into_parts_on_threads_gives_the_same_loss_and_gradients(batch, count, parts):
    net, _, _ = batch
    rng = np.random.default_rng(count)
    images, labels = rng.random((count, 28, 28)), rng.integers(0, 10, count)
    whole, cut = (
        fast.batch_gradients(net.params, images, labels),
        fast.batch_gradients(net.params, images, labels, parts=parts),
    )
    assert cut.loss == pytest.approx(whole.loss, rel=1e-12) and cut.correct == whole.correct
    for name, grad in whole.grads.items():
        assert cut.grads[name].shape == grad.shape and np.allclose(cut.grads[name], grad, rtol=1e-10, atol=1e-14), name
    # a loss of the whole batch's S (distillation, smoothing) is taken between the parts' passes
    teacher_S = rng.normal(size=(count, 10))
    loss = objective(labels, 0.1, teacher_S, temperature=3.0, weight=0.5)
    whole, cut = (fast.batch_gradients(net.params, images, labels, loss, parts=p) for p in (1, parts))
    assert cut.loss == pytest.approx(whole.loss, rel=1e-12)
    assert all(np.allclose(cut.grads[k], whole.grads[k], rtol=1e-10, atol=1e-14) for k in whole.grads)


def test_a_batch_cut_into_parts_gives_the_same_bits_every_time():
    """Parts on several threads share one BLAS thread count (the process's, in NumPy's OpenBLAS): no
    part may run on two BLAS threads because another restored the count first (fast/threads.py)."""
    net = model.CNN.random(seed=0)
    rng = np.random.default_rng(63)
    images, labels = rng.random((63, 28, 28)).astype(np.float32), rng.integers(0, 10, 63)
    first = fast.batch_gradients(net.params, images, labels, parts=3).grads
    for _ in range(150):
        again = fast.batch_gradients(net.params, images, labels, parts=3).grads
        assert all(np.array_equal(first[k], again[k]) for k in first)


@pytest.mark.parametrize("name", ["k1", "b1", "k2", "b2", "w", "b"])
def test_training_matches_finite_differences(batch, name):
    net, images, labels = batch
    grads = fast.batch_gradients(net.params, images, labels).grads
    numeric = numeric_grad(lambda: mean_loss(forward(net.params, images), labels), net.params[name])
    assert grads[name].dtype == np.float64 and grads[name].shape == net.params[name].shape
    assert relative_error(grads[name], numeric) < GRAD_RTOL


def test_the_reference_never_imports_the_fast_path():
    for module in ("layers.py", "network.py", "architecture.py"):
        text = (ROOT / "model" / module).read_text()
        assert "fast" not in [
            word.strip(".,()") for line in text.splitlines() if "import" in line for word in line.split()
        ], module


def test_with_the_fast_path_off_training_the_service_and_the_tests_still_work(tmp_path):
    env = {**os.environ, "CNN_FAST": "0"}
    probe = "import model; from model import fast; print(fast.enabled(), model.CNN.random().frozen()._inference)"
    assert subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout.split() == ["False", "None"]
    tests = [
        "tests/test_network.py",
        "tests/test_training.py",
        "tests/test_api.py",
        "tests/test_explorer.py",
        "tests/test_gradients.py",
        "tests/test_committed_weights.py",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1] and "skipped" not in done.stdout.splitlines()[-1]
