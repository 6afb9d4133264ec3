"""Fine-tuning the served network on the class's drawings: stateless, resumable, scored before and after."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from model.codec import decode_params
from model.data import small_mnist
from tests.conftest import WEIGHTS

TOKEN = "tuning-token-0123"
TEACHER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def class_drawings() -> tuple[np.ndarray, np.ndarray]:
    """A class whose digits MNIST never showed the network: MNIST's own, mirrored left to right."""
    mnist = small_mnist()
    return mnist.test_images[:100, :, ::-1] / 255.0, mnist.test_labels[:100]


@pytest.fixture(scope="module")
def client(tmp_path_factory, class_drawings):
    settings = Settings(weights=WEIGHTS, pool_workers=1, teacher_token=TOKEN, data_dir=tmp_path_factory.mktemp("t"))
    with TestClient(create_app(settings)) as c:
        for image, label in zip(*class_drawings, strict=True):
            assert c.post("/drawings", json={"image": image.tolist(), "label": int(label)}).status_code == 201
        yield c


def test_fine_tuning_learns_the_class_and_keeps_mnist(client):
    answer = client.post("/drawings/tune", json={"seed": 1, "steps": 16}, headers=TEACHER).json()
    before = answer["before"]
    assert answer["drawings"] == 80 and answer["held_out"] == 20 and answer["step"] == 16
    for _ in range(5):
        answer = client.post("/drawings/tune", json={"resume": answer["resume"], "steps": 16}, headers=TEACHER).json()
    assert answer["step"] == 96 and answer["before"] == before  # "before" is always the served network
    assert answer["after"]["class"] >= before["class"] + 0.15, (before, answer["after"])
    assert answer["after"]["mnist"] >= before["mnist"] - 0.03
    decode_params(answer["params"])  # usable as a visitor's copy by /predict
    r = client.post("/predict", json={"image": [[0.0] * 28] * 28, "params": answer["params"]})
    assert r.status_code == 200


def test_the_same_request_gets_the_same_answer(client):
    first = client.post("/drawings/tune", json={"seed": 3, "steps": 2}, headers=TEACHER).json()
    again = client.post("/drawings/tune", json={"seed": 3, "steps": 2}, headers=TEACHER).json()
    assert first == again


def test_tuning_refuses_what_it_cannot_use(client):
    assert client.post("/drawings/tune", json={"steps": 1}).status_code == 401
    assert client.post("/drawings/tune", json={"steps": 17}, headers=TEACHER).status_code == 422
    train = client.post("/train", json={"recipe": "ours", "steps": 1}).json()
    r = client.post("/drawings/tune", json={"resume": train["resume"], "steps": 1}, headers=TEACHER)
    assert r.status_code == 422 and "POST /train" in r.json()["detail"]
    r = client.post("/drawings/tune", content=b"steps=1", headers=TEACHER | {"Content-Type": "text/plain"})
    assert r.status_code == 415


def test_tuning_needs_a_few_drawings(tmp_path):
    settings = Settings(weights=WEIGHTS, pool_workers=1, teacher_token=TOKEN, data_dir=tmp_path)
    with TestClient(create_app(settings)) as c:
        r = c.post("/drawings/tune", json={"steps": 1}, headers=TEACHER)
        assert r.status_code == 422 and "at least" in r.json()["detail"]


def test_the_tuned_copy_downloads_as_a_weights_file_the_service_serves(client, tmp_path):
    import io
    import zipfile

    from app.api.service import Classifier

    answer = client.post("/drawings/tune", json={"seed": 0, "steps": 2}, headers=TEACHER).json()
    body = {"params": answer["params"], "steps": answer["step"], "drawings": answer["drawings"]}
    r = client.post("/drawings/weights", json=body, headers=TEACHER)
    assert r.status_code == 200 and r.headers["content-disposition"] == 'attachment; filename="class-copy.zip"'
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(tmp_path)
    served = Classifier.load(tmp_path / "class-copy.npz")  # as CNN_WEIGHTS=class-copy.npz would
    assert served.metadata["fine_tuned"]["steps"] == 2
    grid = np.zeros((28, 28))
    grid[4:24, 13:15] = 1
    mine = client.post("/predict", json={"image": grid.tolist(), "params": answer["params"]}).json()
    assert served.predict(grid).label == mine["label"]
    assert client.post("/drawings/weights", json=body).status_code == 401
    assert client.post("/drawings/weights", json={"params": "x"}, headers=TEACHER).status_code == 422
