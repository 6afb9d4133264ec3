"""The reference network's backpropagation (model/network.py) against finite differences and the
article's loops, in float64. model/fast/ is checked against it in test_fast.py."""

from __future__ import annotations

import numpy as np
import pytest

import model
from bench.reference import backward_one, forward_one, loss_one
from model.network import batch_gradients, forward, mean_loss
from tests.numeric import numeric_grad, relative_error

GRAD_RTOL = 1e-6


def test_the_batch_exercises_relu_and_maxpool_ties(batch):
    net, images, _ = batch
    fw = net.forward(images)
    for S in (fw.S1, fw.S2):
        assert (S > 0).any() and (S < 0).any()
    windows_of_zeros = lambda C: C.reshape(*C.shape[:2], C.shape[2] // 2, 2, -1, 2).max(axis=(3, 5)) == 0  # noqa: E731
    assert windows_of_zeros(fw.C1).any() and windows_of_zeros(fw.C2).any()


@pytest.mark.parametrize("name", ["k1", "b1", "k2", "b2", "w", "b"])
def test_gradient_matches_finite_differences(batch, name):
    net, images, labels = batch
    grads = batch_gradients(net.params, images, labels).grads
    numeric = numeric_grad(lambda: mean_loss(forward(net.params, images), labels), net.params[name])
    assert grads[name].dtype == np.float64
    assert relative_error(grads[name], numeric) < GRAD_RTOL


def test_batch_gradient_is_the_mean_of_the_articles_per_image_gradients(batch):
    net, images, labels = batch
    loss, _, grads = batch_gradients(net.params, images, labels)
    per_image = []
    for I, label in zip(images, labels, strict=True):
        fw = forward_one(net.params, I)
        per_image.append((loss_one(fw, label), backward_one(net.params, fw, label)))
    assert loss == pytest.approx(np.mean([L for L, _ in per_image]), rel=1e-12)
    for name in model.PARAM_SHAPES:
        mean = np.mean([g[name] for _, g in per_image], axis=0)
        assert np.allclose(grads[name], mean, rtol=1e-10, atol=1e-12), name


def test_forward_matches_the_articles_loops(batch):
    net, images, _ = batch
    fw = forward(net.params, images[:2])
    for n, I in enumerate(images[:2]):
        ref = forward_one(net.params, I)
        for name in ("S1", "C1", "P1", "S2", "C2", "P2", "f", "S", "O"):
            assert np.allclose(getattr(fw, name)[n], ref[name], rtol=1e-12, atol=1e-12), name
        i_max = 2 * np.arange(12)[:, None] + fw.I1[n] // 2  # the winners, as the article's I1 holds them
        assert np.array_equal(i_max, ref["I1"][..., 0])


def test_explain_gives_every_gradient_of_one_image_including_the_image_itself(batch):
    net, images, labels = batch
    image, label = images[1], int(labels[1])
    fw, bw = net.explain(image, label)
    _, _, grads = batch_gradients(net.params, image[None], np.array([label]))
    for name, grad in grads.items():
        assert np.allclose(bw.params()[name], grad, rtol=1e-12, atol=1e-15), name
    assert np.allclose(bw.dLS1, bw.dLC1 * (fw.S1 > 0), rtol=0, atol=0)  # eq. (60) from the article's dLC1
    x = image.copy()
    numeric = numeric_grad(lambda: mean_loss(forward(net.params, x[None]), np.array([label])), x)
    assert relative_error(bw.dLI[0], numeric) < GRAD_RTOL
