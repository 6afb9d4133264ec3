"""Issue 37's training levers: the objectives' gradients (label smoothing, distillation) against
finite differences through the fast path, the weights' average, and a short run of a wider network
distilled into the article's, resumed from its checkpoint with the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

import model
import model.train as train_module
from model import fast
from model.layers import log_softmax
from model.network import batch_gradients
from model.train import train
from model.training.objectives import objective
from model.training.optimizers import average_step
from model.training.recipes import RECIPES, Recipe


def test_the_plain_objective_is_the_articles_cross_entropy(batch):
    net, images, labels = batch
    plain = fast.batch_gradients(net.params, images, labels, objective(labels))
    reference = batch_gradients(net.params, images, labels)
    assert plain.loss == pytest.approx(reference.loss, rel=1e-12)
    for name, grad in reference.grads.items():
        assert np.allclose(plain.grads[name], grad, rtol=1e-10, atol=1e-12), name


@pytest.mark.parametrize("smoothing, weight, temperature", [(0.1, 0.0, 1.0), (0.0, 0.7, 4.0), (0.1, 0.5, 2.5)])
def test_the_objectives_gradient_matches_finite_differences_of_its_loss(batch, smoothing, weight, temperature):
    net, images, labels = batch
    teacher_S = np.random.default_rng(3).normal(0, 3, (len(images), 10))
    loss = objective(labels, smoothing, teacher_S, temperature, weight)
    S = np.random.default_rng(4).normal(0, 2, (len(images), 10))
    _, dLS = loss(S)
    numeric = np.zeros_like(S)
    for idx in np.ndindex(S.shape):
        up, down = S.copy(), S.copy()
        up[idx] += 1e-6
        down[idx] -= 1e-6
        numeric[idx] = (loss(up)[0] - loss(down)[0]) / 2e-6
    assert np.allclose(dLS, numeric, rtol=1e-6, atol=1e-9)
    taught = fast.batch_gradients(net.params, images, labels, loss)  # and through the network, along a direction
    d = np.random.default_rng(5).normal(size=net.params["k1"].shape)
    params = {k: v.copy() for k, v in net.params.items()}
    values = []
    for sign in (1, -1):
        params["k1"] = net.params["k1"] + sign * 1e-6 * d
        values.append(fast.batch_gradients(params, images, labels, loss).loss)
    assert (values[0] - values[1]) / 2e-6 == pytest.approx(float((taught.grads["k1"] * d).sum()), rel=1e-6)


def test_distillation_pulls_the_student_towards_the_teachers_probabilities(batch):
    _, images, labels = batch
    teacher_S = np.random.default_rng(3).normal(0, 3, (len(images), 10))
    _, dLS = objective(labels, 0.0, teacher_S, 4.0, 1.0)(teacher_S.copy())
    assert np.allclose(dLS, 0, atol=1e-15)  # a student that equals its teacher learns nothing more from it
    p = np.exp(log_softmax(teacher_S / 4.0))
    assert objective(labels, 0.0, teacher_S, 4.0, 1.0)(teacher_S)[0] == pytest.approx(0, abs=1e-12)
    assert p.sum(axis=1) == pytest.approx(1)


def test_the_average_of_the_weights_moves_a_share_of_the_way():
    average, params = {"w": np.zeros(3)}, {"w": np.ones(3)}
    average_step(average, params, 0.9)
    average_step(average, params, 0.9)
    assert np.allclose(average["w"], 1 - 0.9**2)


def test_the_recipes_are_of_the_family_and_the_student_is_the_articles():
    assert RECIPES["student"].architecture == model.ARTICLE
    teacher = RECIPES["teacher"].architecture
    assert teacher.n1 > model.ARTICLE.n1 and teacher.k == model.ARTICLE.k
    assert all(RECIPES[name].validation > 0 for name in ("teacher", "student"))  # every choice is made on validation


def test_a_wider_teacher_distilled_into_the_article_s_network_resumes_exactly(mnist_path, tmp_path, monkeypatch):
    teacher_cfg = Recipe(epochs=1, batch_size=64, limit=1500, validation=500, n1=8, n2=16, test=False)
    meta = train(teacher_cfg, str(mnist_path), str(tmp_path / "teacher"))
    assert meta["test_accuracy"] is None and "test_ece_after" not in meta["calibration"]  # the test set unread
    assert model.load(tmp_path / "teacher").architecture == model.Architecture(8, 16, 5)
    student = Recipe(
        epochs=2, batch_size=64, limit=1500, validation=500, augment=True, label_smoothing=0.1,
        teacher=str(tmp_path / "teacher"), distill=0.5, ema=0.9, test=False,
    )  # fmt: skip
    whole = train(student, str(mnist_path), str(tmp_path / "whole"))
    assert whole["validation"]["accuracy"] > 0.5 and model.load(tmp_path / "whole").architecture == model.ARTICLE

    real_save = train_module.save_checkpoint

    def save_then_crash(*args, **kwargs):
        real_save(*args, **kwargs)
        raise KeyboardInterrupt  # killed right after the first epoch's checkpoint

    monkeypatch.setattr(train_module, "save_checkpoint", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train(student, str(mnist_path), str(tmp_path / "split"))
    with np.load(tmp_path / "split.ckpt.npz") as z:
        assert {f"ema_{k}" for k in model.PARAM_SHAPES} <= set(z.files)  # the average is resumed too
    monkeypatch.setattr(train_module, "save_checkpoint", real_save)
    resumed = train(student, str(mnist_path), str(tmp_path / "split"), resume=True)
    assert [h["epoch"] for h in resumed["history"]] == [1, 2]
    assert (tmp_path / "split.npz").read_bytes() == (tmp_path / "whole.npz").read_bytes()
