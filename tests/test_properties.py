"""Property tests (hypothesis): the normalisation and the JSON input paths, for inputs nobody listed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import model
from app.config import Settings
from app.main import create_app
from app.pictures.preprocessing import BLANK_LEVEL, EmptyDrawing, normalize

SETTINGS = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

unit = st.floats(0, 1, allow_nan=False, width=32)
drawings = st.integers(1, 48).flatmap(
    lambda h: st.integers(1, 48).flatmap(lambda w: arrays(np.float64, (h, w), elements=unit))
)


@SETTINGS
@given(drawings)
def test_any_drawing_with_ink_becomes_an_mnist_like_grid(drawing):
    if drawing.max() < BLANK_LEVEL:
        with pytest.raises(EmptyDrawing):
            normalize(drawing)
        return
    grid = normalize(drawing)
    assert grid.shape == (28, 28) and grid.dtype == np.float32
    assert np.isfinite(grid).all() and grid.min() >= 0 and grid.max() == pytest.approx(1)
    rows, cols = np.flatnonzero(grid.any(axis=1)), np.flatnonzero(grid.any(axis=0))
    assert rows[-1] - rows[0] < 20 + 1 and cols[-1] - cols[0] < 20 + 1  # fitted into MNIST's 20x20 box


@SETTINGS
@given(drawings, st.integers(0, 30), st.integers(0, 30), st.integers(0, 30), st.integers(0, 30))
def test_where_the_digit_lies_on_the_canvas_does_not_matter(drawing, top, left, bottom, right):
    if drawing.max() < BLANK_LEVEL:
        return
    moved = np.pad(drawing, ((top, bottom), (left, right)))
    assert np.array_equal(normalize(moved), normalize(drawing))


@SETTINGS
@given(arrays(np.float64, (28, 28), elements=unit))
def test_any_valid_grid_gets_probabilities_equal_to_the_network(client_and_net, grid):
    client, net = client_and_net
    answer = client.post("/predict", json={"image": grid.tolist()}).json()
    expected = net.predict_proba(grid)[0]
    assert answer["label"] == int(expected.argmax()) or expected.max() - expected[answer["label"]] < 1e-6
    assert np.allclose(answer["probabilities"], expected, atol=1e-6)
    assert sum(answer["probabilities"]) == pytest.approx(1)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=30) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=200,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"image": json_values}),
    st.fixed_dictionaries(
        {"image": st.lists(st.lists(st.floats() | st.integers(), max_size=40), max_size=40)},
        optional={"normalize": json_values, "feature_maps": json_values, "maps_encoding": json_values},
    ),
)


@SETTINGS
@given(bodies, st.sampled_from(["/predict", "/predict/batch"]))
def test_any_json_body_gets_an_answer_or_a_clear_4xx_never_a_5xx(client_and_net, body, path):
    client, _ = client_and_net
    r = client.post(path, content=json.dumps(body, allow_nan=True), headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 413, 422), r.text
    if r.status_code != 200:
        detail = r.json()["detail"]
        assert isinstance(detail, str) and 0 < len(detail) < 2000


@pytest.fixture(scope="module")
def client_and_net(tmp_path_factory):
    net = model.CNN.random(seed=4)
    weights = net.save(tmp_path_factory.mktemp("props") / "random", {"test_accuracy": 0.1})
    with TestClient(create_app(Settings(weights=weights, max_batch=16))) as client:
        yield client, net
