"""The network's public contract: shapes, flatten order, probabilities, validation, dtypes."""

from __future__ import annotations

import numpy as np
import pytest

import model
from model import CNN, InvalidInput


@pytest.fixture(scope="module")
def net() -> CNN:
    return CNN.random(seed=0)


def test_parameters_have_the_articles_shapes():
    net = CNN.random(seed=0)
    assert {k: v.shape for k, v in net.params.items()} == {
        "k1": (6, 5, 5),
        "b1": (6,),
        "k2": (12, 6, 5, 5),
        "b2": (12,),
        "w": (10, 192),
        "b": (10,),
    }
    assert sum(v.size for v in net.params.values()) == model.NUM_PARAMS == 3898


def test_random_is_reproducible_and_seed_dependent():
    a, b, c = CNN.random(seed=5), CNN.random(seed=5), CNN.random(seed=6)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["k2"], c.params["k2"])


def test_float32_is_the_default_and_float64_works(rng):
    images = rng.random((3, 28, 28))
    assert CNN.random().predict_proba(images).dtype == np.float32
    net64 = CNN.random(dtype=np.float64)
    _, grads = net64.loss_and_gradients(images, [1, 2, 3])
    assert net64.predict_proba(images).dtype == np.float64
    assert all(g.dtype == np.float64 for g in grads.values())


def test_forward_shapes(net, rng):
    fw = net.forward(rng.random((4, 28, 28)))
    shapes = {name: getattr(fw, name).shape for name in fw._fields}
    assert shapes == {
        "I": (4, 28, 28),
        "S1": (4, 6, 24, 24),
        "C1": (4, 6, 24, 24),
        "I1": (4, 6, 12, 12),
        "P1": (4, 6, 12, 12),
        "S2": (4, 12, 8, 8),
        "C2": (4, 12, 8, 8),
        "I2": (4, 12, 4, 4),
        "P2": (4, 12, 4, 4),
        "f": (4, 192),
        "S": (4, 10),
        "O": (4, 10),
    }


def test_scores_equal_the_forward_passs_scores(rng):
    net = CNN.random(seed=3)
    net.params["b1"][:] = rng.normal(0, 0.3, 6)  # some windows all negative: the ReLU after pooling must matter
    net.params["b2"][:] = rng.normal(0, 0.3, 12)
    images = rng.random((5, 28, 28))
    S = net.forward(images).S
    assert np.allclose(net.scores(images), S, rtol=1e-5, atol=1e-6)  # the same sums, perhaps in another order
    assert np.array_equal(net.predict(images), S.argmax(axis=1))
    assert np.allclose(net.predict_proba(images), net.forward(images).O, atol=1e-7)


def test_a_frozen_network_answers_the_same_and_cannot_be_changed(rng):
    net = CNN.random(seed=4)
    frozen = net.frozen()
    images = rng.random((3, 28, 28))
    assert np.array_equal(frozen.scores(images), net.scores(images))
    assert np.array_equal(frozen.forward(images).S, net.forward(images).S)
    assert np.array_equal(frozen.predict_proba(images), net.predict_proba(images))
    with pytest.raises(ValueError, match="read-only"):
        frozen.params["k1"][0, 0, 0] = 1.0  # the banded matrices it keeps can never go stale
    net.params["k1"][0, 0, 0] += 1.0  # and the original's parameters are not shared with it
    assert not np.array_equal(frozen.scores(images), net.scores(images))


def test_flatten_order_is_16m_plus_4x_plus_y(net, rng):
    fw = net.forward(rng.random((2, 28, 28)))
    for n, m, x, y in np.ndindex(fw.P2.shape):
        assert fw.f[n, 16 * m + 4 * x + y] == fw.P2[n, m, x, y]


def test_probabilities_are_rows_summing_to_one(net, rng):
    O = net.predict_proba(rng.random((7, 28, 28)))
    assert O.shape == (7, 10)
    assert (O >= 0).all()
    assert np.allclose(O.sum(axis=1), 1.0, atol=1e-6)


def test_calibrated_probabilities_are_the_articles_at_t_1_and_keep_the_answer(net, rng):
    images = rng.random((7, 28, 28))
    S = net.scores(images)
    O = model.calibrated(S)
    assert O.dtype == np.float64 and np.allclose(O, net.predict_proba(images), atol=1e-6)
    for T in (0.5, 2.0):  # a temperature changes how sure, never which digit
        hotter = model.calibrated(S, T)
        assert np.allclose(hotter.sum(axis=1), 1.0) and (hotter.argmax(axis=1) == O.argmax(axis=1)).all()
    assert (model.calibrated(S, 2.0).max(axis=1) < O.max(axis=1)).all()


def test_a_single_image_is_a_batch_of_one(net, rng):
    image = rng.random((28, 28))
    assert np.array_equal(net.predict_proba(image), net.predict_proba(image[None]))
    assert net.predict(image).shape == (1,)


def test_batch_results_equal_one_at_a_time(net, rng):
    images = rng.random((6, 28, 28))
    one_by_one = np.concatenate([net.predict_proba(image) for image in images])
    assert np.allclose(net.predict_proba(images), one_by_one, atol=1e-6)


def test_feature_maps_have_the_documented_shapes(net, rng):
    maps = net.feature_maps(rng.random((28, 28)))
    assert {k: v.shape for k, v in maps.items()} == {
        "C1": (6, 24, 24),
        "P1": (6, 12, 12),
        "C2": (12, 8, 8),
        "P2": (12, 4, 4),
        "S": (10,),
        "O": (10,),
    }
    assert (maps["C1"] >= 0).all() and (maps["P2"] >= 0).all()  # after the ReLU


def test_loss_is_minus_log_of_the_labels_probability(net, rng):
    images, labels = rng.random((4, 28, 28)), np.array([0, 3, 3, 9])
    loss, _ = net.loss_and_gradients(images, labels)
    O = net.predict_proba(images)
    assert loss == pytest.approx(-np.log(O[np.arange(4), labels]).mean(), rel=1e-5)


def test_inputs_are_not_modified(net, rng):
    images = rng.random((2, 28, 28))
    before, params_before = images.copy(), {k: v.copy() for k, v in net.params.items()}
    net.loss_and_gradients(images, [1, 2])
    net.feature_maps(images[0])
    assert np.array_equal(images, before)
    assert all(np.array_equal(net.params[k], params_before[k]) for k in params_before)


@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((28, 27)), r"shape \(N, 28, 28\) or \(28, 28\), got \(28, 27\)"),
        (np.zeros((2, 1, 28, 28)), r"got \(2, 1, 28, 28\)"),
        (np.zeros((0, 28, 28)), "empty batch"),
        (np.full((28, 28), np.nan), "NaN or infinity"),
        (np.full((28, 28), np.inf), "NaN or infinity"),
        (np.full((28, 28), 255.0), r"\[0, 1\], got values in \[255, 255\]"),
        (np.full((28, 28), -0.5), r"\[0, 1\]"),
        (np.full((28, 28), "x"), "expected numbers"),
    ],
)
def test_bad_images_are_refused_with_a_clear_message(net, images, message):
    with pytest.raises(InvalidInput, match=message):
        net.predict_proba(images)


@pytest.mark.parametrize(
    "labels, message",
    [([1, 2], "expected 3 labels"), ([1, 2, 10], r"0\.\.9"), ([1, 2, -1], r"0\.\.9"), ([0.5, 1, 2], "integers")],
)
def test_bad_labels_are_refused(net, rng, labels, message):
    with pytest.raises(InvalidInput, match=message):
        net.loss_and_gradients(rng.random((3, 28, 28)), labels)


def test_feature_maps_want_exactly_one_image(net, rng):
    with pytest.raises(InvalidInput, match="one image"):
        net.feature_maps(rng.random((2, 28, 28)))


def test_parameters_of_the_wrong_shape_are_refused():
    params = CNN.random().params
    with pytest.raises(InvalidInput, match=r"k2 must have shape \(12, 6, 5, 5\)"):
        CNN({**params, "k2": np.zeros((12, 6, 3, 3), np.float32)})
    with pytest.raises(InvalidInput, match="expected parameters"):
        CNN({k: v for k, v in params.items() if k != "b"})
