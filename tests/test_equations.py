"""POST /equation: the article's equations with a drawing's numbers, equal to what the network computed."""

from __future__ import annotations

import numpy as np
import pytest

import model
from model.lab.equations import SHAPES
from model.mnist import to_float
from tests.conftest import WEIGHTS


@pytest.fixture(scope="module")
def drawing(mnist):
    return to_float(mnist.test.images[0], np.float64)  # a 7


@pytest.fixture(scope="module")
def network(drawing):
    net = model.load(WEIGHTS)
    return net, *net.explain(drawing, 9)


def ask(client, drawing, kind, index, label=9):
    r = client.post("/equation", json={"image": drawing.tolist(), "label": label, "kind": kind, "index": index})
    assert r.status_code == 200, r.text
    return r.json()


def test_eq_1_one_cell_of_s1_is_its_window_times_the_kernel_plus_the_bias(client, drawing, network):
    net, fw, _ = network
    for index in ([0, 10, 12], [3, 4, 20], [5, 23, 23]):
        e = ask(client, drawing, "S1", index)
        p, i, j = index
        assert np.array_equal(e["window"], fw.I[0, i : i + 5, j : j + 5])
        assert np.array_equal(e["kernel"], net.params["k1"][p])
        assert e["value"] == float(fw.S1[0, p, i, j]) and e["after_relu"] == float(fw.C1[0, p, i, j])
        assert e["sum_of_products"] + e["bias"] == pytest.approx(e["value"], abs=1e-5)
        assert np.sum(e["products"]) == pytest.approx(e["sum_of_products"], abs=1e-6)


def test_eq_2_the_pool_names_its_winner(client, drawing, network):
    _, fw, _ = network
    for index in ([0, 5, 6], [4, 11, 0]):
        e = ask(client, drawing, "P1", index)
        p, i, j = index
        assert e["value"] == float(fw.P1[0, p, i, j]) == max(max(row) for row in e["window"])
        y, x = e["winner"]
        assert fw.C1[0, p, y, x] == e["value"]


def test_eq_5_6_23_the_softmax_the_loss_and_its_gradient(client, drawing, network):
    _, fw, bw = network
    for j in (7, 9, 1):
        O = ask(client, drawing, "O", [j])
        assert O["value"] == float(fw.O[0, j])
        assert O["exps"][j] / O["sum_of_exps"] == pytest.approx(O["value"], rel=1e-6)
        assert O["scores"] == pytest.approx(fw.S[0].tolist())
        dLS = ask(client, drawing, "dLS", [j])
        assert dLS["value"] == float(bw.dLS[0, j])
        assert dLS["probability"] - dLS["target"] == pytest.approx(dLS["value"], abs=1e-7)
    L = ask(client, drawing, "L", [])
    assert L["value"] == pytest.approx(model.network.mean_loss(fw, np.array([9])), rel=1e-6)
    assert L["value"] == -L["log_probability"]  # from S in float64; O itself is float32, so within its rounding:
    assert L["value"] == pytest.approx(-np.log(L["probability"]), rel=1e-6)


def test_eq_43_routes_dlp2_to_its_windows_winner_and_eq_65_sums_dlk1_over_s1(client, drawing, network):
    _, fw, bw = network
    for index in ([0, 1, 2], [11, 3, 3]):
        e = ask(client, drawing, "dLC2", index)
        m, r, c = index
        assert e["upstream"] == float(bw.dLP2[0, m, r, c])
        assert np.array_equal(e["routed"], bw.dLC2[0, m, 2 * r : 2 * r + 2, 2 * c : 2 * c + 2])
        y, x = e["winner"]
        assert e["value"] == float(bw.dLC2[0, m, y, x]) == e["upstream"]
        assert sum(v != 0 for row in e["routed"] for v in row) <= 1
    for index in ([0, 0, 0], [2, 3, 4]):
        e = ask(client, drawing, "dLk1", index)
        p, u, v = index
        assert e["value"] == float(bw.dLk1[p, u, v])
        assert e["sum"] == pytest.approx(e["value"], rel=1e-5, abs=1e-7)
        assert e["terms"] == 24 * 24 and len(e["largest"]) <= 6
        for t in e["largest"]:
            assert t["dLS1"] == float(bw.dLS1[0, p, t["i"], t["j"]]) and t["I"] == float(
                fw.I[0, t["i"] + u, t["j"] + v]
            )


@pytest.mark.parametrize(
    "kind, index, words",
    [("S1", [6, 0, 0], "not a cell of S1"), ("L", [0], "give 0 indices"), ("dLk2", [0], "'S1', 'P1'")],
)
def test_a_cell_that_is_not_there_is_a_clear_422(client, drawing, kind, index, words):
    r = client.post("/equation", json={"image": drawing.tolist(), "label": 1, "kind": kind, "index": index})
    assert r.status_code == 422 and words in r.json()["detail"]


def test_every_kind_has_a_shape():
    assert set(SHAPES) == {"S1", "P1", "O", "L", "dLS", "dLC2", "dLk1"}
