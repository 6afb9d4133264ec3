"""Networks of other sizes (model/architecture.py's family): the reference against finite differences
and the article's loops in float64, the fast path against the reference, the weights file recording
the architecture, and the service refusing any network but the article's."""

from __future__ import annotations

import json

import numpy as np
import pytest

import model
from app.api.service import Classifier
from bench.reference import backward_one, forward_one, loss_one
from model import fast
from model.network import batch_gradients, forward, mean_loss

SIZES = [model.Architecture(8, 16, 5), model.Architecture(4, 8, 3), model.Architecture(16, 32, 5)]
GRAD_RTOL = 1e-6


@pytest.fixture(scope="module", params=SIZES, ids=str)
def sized(request):
    """A float64 network of one size with biases off 0, three images (one half blank: ties at 0), labels."""
    arch = request.param
    rng = np.random.default_rng(11)
    net = model.CNN.random(seed=5, dtype=np.float64, architecture=arch)
    net.params["b1"][:] = rng.normal(0, 0.3, arch.n1)
    net.params["b2"][:] = rng.normal(0, 0.3, arch.n2)
    images = rng.random((3, 28, 28))
    images[0, :14] = 0
    return net, images, np.array([3, 1, 4])


def test_the_sizes_follow_from_n1_n2_and_k():
    assert model.ARTICLE.sides == (24, 12, 8, 4) and model.ARTICLE.flat == 192 and model.ARTICLE.num_params == 3898
    assert model.Architecture(4, 8, 3).sides == (26, 13, 11, 5)  # odd sides: the max-pool drops the last row
    assert model.Architecture(4, 8, 3).param_shapes()["w"] == (10, 200)
    with pytest.raises(ValueError, match="no pixel"):
        model.Architecture(4, 8, 11).check()


def test_shapes_of_the_forward_pass(sized):
    net, images, _ = sized
    fw = net.forward(images)
    for layer in net.architecture.layers():
        assert getattr(fw, layer.name).shape == (3, *layer.shape), layer.name


@pytest.mark.parametrize("name", ["k1", "b1", "k2", "b2", "w", "b"])
def test_gradient_matches_finite_differences_along_random_directions(sized, name):
    """(L(p + e d) - L(p - e d)) / 2e = <dL/dp, d> for random directions d, in float64."""
    net, images, labels = sized
    params = {k: v.copy() for k, v in net.params.items()}
    grad = batch_gradients(params, images, labels).grads[name]
    rng, eps = np.random.default_rng(1), 1e-6
    for _ in range(4):
        d = rng.normal(size=grad.shape)
        base = params[name].copy()
        params[name] = base + eps * d
        up = mean_loss(forward(params, images), labels)
        params[name] = base - eps * d
        down = mean_loss(forward(params, images), labels)
        params[name] = base
        assert (up - down) / (2 * eps) == pytest.approx(float((grad * d).sum()), rel=GRAD_RTOL, abs=1e-9)


def test_the_reference_equals_the_articles_loops(sized):
    net, images, labels = sized
    fw = forward(net.params, images)
    loss, _, grads = batch_gradients(net.params, images, labels)
    per_image = []
    for n, (I, label) in enumerate(zip(images, labels, strict=True)):
        ref = forward_one(net.params, I)
        for name in ("S1", "C1", "P1", "S2", "C2", "P2", "f", "S", "O"):
            assert np.allclose(getattr(fw, name)[n], ref[name], rtol=1e-12, atol=1e-12), name
        per_image.append((loss_one(ref, label), backward_one(net.params, ref, label)))
    assert loss == pytest.approx(np.mean([L for L, _ in per_image]), rel=1e-12)
    for name in grads:
        assert np.allclose(grads[name], np.mean([g[name] for _, g in per_image], axis=0), rtol=1e-10, atol=1e-12)


def test_the_fast_path_equals_the_reference(sized):
    net, images, labels = sized
    fw = forward(net.params, images)
    assert np.allclose(fast.Inference(net.params).scores(images), fw.S, rtol=1e-10, atol=1e-12)
    assert np.allclose(net.frozen().predict_proba(images), fw.O, rtol=1e-10, atol=1e-14)
    reference, taught = batch_gradients(net.params, images, labels), fast.batch_gradients(net.params, images, labels)
    assert taught.loss == pytest.approx(reference.loss, rel=1e-12) and taught.correct == reference.correct
    for name, grad in reference.grads.items():
        assert np.allclose(taught.grads[name], grad, rtol=1e-10, atol=1e-12), name
    maps = net.feature_maps(images[1])
    for name in ("C1", "P1", "C2", "P2", "S"):
        assert np.allclose(maps[name], getattr(fw, name)[1], rtol=1e-10, atol=1e-12), name


def test_the_weights_file_records_the_architecture_and_load_rebuilds_it(sized, tmp_path):
    net, images, _ = sized
    net.save(tmp_path / "net")
    record = json.loads((tmp_path / "net.json").read_text())["architecture"]
    assert record["args"] == net.architecture._asdict()
    assert record["num_params"] == sum(v.size for v in net.params.values())
    loaded = model.load(tmp_path / "net")
    assert loaded.architecture == net.architecture
    assert np.array_equal(loaded.scores(images), net.scores(images))


def test_the_service_refuses_a_network_that_is_not_the_articles(sized, tmp_path):
    net, _, _ = sized
    net.save(tmp_path / "other")
    with pytest.raises(model.WeightsError, match="serves only the article's"):
        Classifier.load(tmp_path / "other.npz")


def test_a_weights_file_from_before_the_family_loads_as_the_articles(tmp_path):
    net = model.CNN.random(seed=2)
    net.save(tmp_path / "old")
    meta = json.loads((tmp_path / "old.json").read_text())
    del meta["architecture"]["args"]  # as every file written before the architecture had arguments
    (tmp_path / "old.json").write_text(json.dumps(meta))
    assert model.load(tmp_path / "old").architecture == model.ARTICLE
    meta["architecture"]["args"] = {"n1": 8, "n2": 16, "k": 5}  # a record that does not match the arrays
    (tmp_path / "old.json").write_text(json.dumps(meta))
    with pytest.raises(model.WeightsError, match="must have shape"):
        model.load(tmp_path / "old")
