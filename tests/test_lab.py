"""POST /nudge (make it a 9) and POST /check (a gradient checked by hand), and model/lab/check.py's kinks."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

import model
from model.architecture import GRADIENTS
from model.lab.check import check
from model.mnist import to_float
from tests.conftest import WEIGHTS


@pytest.fixture(scope="module")
def net():
    return model.load(WEIGHTS)


def decode_array(encoded: dict) -> np.ndarray:
    raw = base64.b64decode(encoded["float16"])
    return np.frombuffer(raw, "<f2").reshape(encoded["shape"])


def test_nudging_makes_the_target_win_and_reports_true_distances(client, mnist):
    rng = np.random.default_rng(19)
    picks = rng.choice(len(mnist.test.labels), 50, replace=False)
    reached, steps, l2 = 0, [], []
    for i in picks:
        image = to_float(mnist.test.images[i], np.float64)
        target = int((mnist.test.labels[i] + 1 + rng.integers(9)) % 10)
        r = client.post("/nudge", json={"image": image.tolist(), "target": target})
        assert r.status_code == 200
        body = r.json()
        final = np.array(body["image"])
        assert final.shape == (28, 28) and final.min() >= 0 and final.max() <= 1
        assert body["l2"] == pytest.approx(np.linalg.norm(final - image), abs=1e-9)
        assert body["largest_change"] == pytest.approx(np.abs(final - image).max(), abs=1e-12)
        frames = decode_array(body["frames"])
        assert frames.shape == (body["steps"] + 1, 28, 28) and len(body["target_probability"]) == body["steps"] + 1
        assert body["reached"] == (body["label"] == target)
        assert all(np.isfinite(body["probabilities"]))
        reached += body["reached"]
        steps.append(body["steps"])
        l2.append(body["l2"])
    assert reached >= 48, f"{reached} of 50"  # 95 %


@pytest.mark.parametrize("mode", ["add", "remove"])
def test_nudging_that_may_only_add_or_only_remove_ink(client, mnist, mode):
    image = to_float(mnist.test.images[0], np.float64)  # a 7
    body = client.post("/nudge", json={"image": image.tolist(), "target": 9, "mode": mode}).json()
    change = np.array(body["image"]) - image
    assert (change >= -1e-12).all() if mode == "add" else (change <= 1e-12).all()
    assert body["steps"] >= 1


def noisy(image: np.ndarray) -> np.ndarray:
    """A digit with faint noise: no exact ties left in its max-pool windows."""
    return np.clip(image + np.random.default_rng(4).uniform(0, 0.02, image.shape), 0, 1)


@pytest.mark.parametrize("gradient", [g.name for g in GRADIENTS])
def test_every_gradient_agrees_with_its_central_difference(net, mnist, gradient):
    image = noisy(to_float(mnist.test.images[1], np.float64))
    shape = next(g.shape for g in GRADIENTS if g.name == gradient)
    rng = np.random.default_rng(len(gradient))
    for label in (2, 5):  # the right digit (a 2) and a wrong one
        for _ in range(6):
            index = tuple(int(rng.integers(n)) for n in shape)
            c = check(net.params, image, label, gradient, index, 1e-5)
            if c.kink:  # a ReLU whose input sits within ε of 0: the one-sided slopes bracket it
                assert min(c.left, c.right) - 1e-9 <= c.analytic <= max(c.left, c.right) + 1e-9
                continue
            assert c.agrees, c
            assert c.relative_error < 1e-6 or abs(c.numerical - c.analytic) <= c.resolution


def test_at_a_max_pool_tie_the_check_says_kink_and_backprop_takes_one_side(net, mnist):
    """Where C2 is 0 across a whole pooling window (all four tied, the ReLU off), nudging a cell up
    makes it the winner and P2 follows; nudging it down changes nothing."""
    params = {k: v.astype(np.float64) for k, v in net.params.items()}
    for i in range(100):  # the first test digit with such a window
        image = to_float(mnist.test.images[i], np.float64)
        fw = model.network.forward(params, image[None])
        dLP2 = model.network.backprop(params, fw, np.array([2])).dLP2[0]
        windows = fw.C2[0].reshape(12, 4, 2, 4, 2).transpose(0, 1, 3, 2, 4).reshape(12, 4, 4, 4)
        tied = (windows == 0).all(axis=-1) & (np.abs(dLP2) > 1e-6)
        if tied.any():
            break
    m, y, x = (int(v) for v in np.argwhere(tied)[0])
    for cell in ((m, 2 * y, 2 * x), (m, 2 * y + 1, 2 * x + 1)):  # the first of the tie, and another
        c = check(net.params, image, 2, "dLC2", cell, 1e-5)
        assert c.kink
        assert c.right == pytest.approx(float(dLP2[m, y, x]), rel=1e-4) and c.left == pytest.approx(0, abs=1e-9)
        assert c.analytic in (pytest.approx(c.left, abs=1e-9), pytest.approx(c.right, rel=1e-4))


def test_at_a_relu_at_exactly_zero_the_check_says_kink(net, mnist):
    """b2 shifted so that S2 is exactly 0 at a window's winner: nudged up, the ReLU passes it on;
    nudged down, it stays 0. Backpropagation's ReLU derivative at 0 is 0, the left slope."""
    params = {k: v.astype(np.float64) for k, v in net.params.items()}
    image = to_float(mnist.test.images[1], np.float64)
    fw = model.network.forward(params, image[None])
    dLP2 = model.network.backprop(params, fw, np.array([5])).dLP2[0]
    m, y, x = (int(v) for v in np.unravel_index(np.argmax(np.abs(dLP2) * (fw.P2[0] > 0)), dLP2.shape))
    window = fw.S2[0, m, 2 * y : 2 * y + 2, 2 * x : 2 * x + 2]
    dy, dx = np.unravel_index(window.argmax(), (2, 2))
    cell = (m, 2 * y + int(dy), 2 * x + int(dx))
    params["b2"] = params["b2"].copy()
    params["b2"][m] -= fw.S2[(0, *cell)]  # now S2 at the cell is exactly 0
    c = check(params, image, 5, "dLS2", cell, 1e-5)
    shifted = model.network.forward(params, image[None])
    dLP2 = model.network.backprop(params, shifted, np.array([5])).dLP2[0]
    assert c.kink and c.analytic == 0.0 and c.left == pytest.approx(0, abs=1e-9)
    assert c.right == pytest.approx(float(dLP2[m, y, x]), rel=1e-3)


def test_the_check_endpoint_answers_in_float64(client, mnist):
    image = noisy(to_float(mnist.test.images[1], np.float64)).tolist()
    body = client.post("/check", json={"image": image, "label": 5, "gradient": "dLk1", "index": [0, 2, 3]}).json()
    assert body["agrees"] and not body["kink"] and body["relative_error"] < 1e-6
    assert body["analytic"] == pytest.approx(body["numerical"], rel=1e-6)
    assert "chain rule" in body["why"]
    dLI = client.post("/check", json={"image": image, "label": 2, "gradient": "dLI", "index": [14, 14]}).json()
    assert dLI["agrees"] or dLI["kink"]


GRID = [[0.0] * 28 for _ in range(28)]


@pytest.mark.parametrize(
    "path, body, words",
    [
        ("/nudge", {"image": GRID, "target": 10}, "less than or equal to 9"),
        ("/nudge", {"image": GRID, "target": 3, "step": 1e30}, "less than or equal to 10"),
        ("/nudge", {"image": GRID, "target": 3, "step": 0}, "greater than 0"),
        ("/nudge", {"image": GRID, "target": 3, "max_steps": 201}, "less than or equal to 200"),
        ("/nudge", {"image": GRID, "target": 3, "mode": "erase"}, "'any', 'add' or 'remove'"),
        ("/check", {"image": GRID, "label": 1, "gradient": "dLk1", "index": [6, 0, 0]}, "not an entry of dLk1"),
        ("/check", {"image": GRID, "label": 1, "gradient": "dLk1", "index": [0, 0]}, "give 3 indices"),
        ("/check", {"image": GRID, "label": 1, "gradient": "dLk3", "index": [0]}, "dLI"),
        ("/check", {"image": GRID, "label": 1, "gradient": "dLb", "index": [0], "epsilon": 0}, "greater than or"),
    ],
)
def test_bad_requests_get_a_clear_422(client, path, body, words):
    r = client.post(path, json=body)
    assert r.status_code == 422
    assert words in r.json()["detail"]


@pytest.mark.parametrize("path", ["/nudge", "/check"])
def test_nan_is_refused(client, path):
    body = {"image": GRID, "target": 3, "step": "NaN"} if path == "/nudge" else {}
    raw = (
        json.dumps(body).replace('"NaN"', "NaN")
        if body
        else ('{"image": [[0]], "label": 1, "gradient": "dLb", "index": [0], "epsilon": NaN}')
    )
    r = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422
