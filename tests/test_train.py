"""POST /train and the runs behind it: stateless, exact, bounded, and the article's recipe as written."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import shutil

import numpy as np
import pytest
from fastapi.testclient import TestClient

import model.data
from app.api.training import RESUME_MAX_LENGTH
from app.config import Settings
from app.main import create_app
from app.registry import BY_NAME
from app.transport.errors import TooManyTrainers, failure
from app.transport.request_path import TRAINERS_PER_WORKER, RequestPath
from model import CNN, codec
from model.cnn import gradients
from model.codec import decode_params
from model.data import DataError, small_mnist
from model.train import main as train_main
from model.training.optimizers import new_state, update
from model.training.recipes import RECIPES
from model.training.runs import HEADER, InvalidRun, Run
from model.training.schedule import cosine_lr, epoch_order
from tests.conftest import WEIGHTS
from tests.numeric import relative_error

# float32 sums taken in another order differ in their last bits, and SGD steps carry that on: six of
# our recipe's steps, 2 BLAS threads against 1 with OpenBLAS's Haswell kernels, measured 1.0e-7 apart
# on the losses and 2.7e-7 on the parameters; 1e-4 leaves room for longer runs and other CPUs
FLOAT32_STEPS = 1e-4


@pytest.fixture(scope="module")
def settings() -> Settings:
    """The committed weights, and room for a thousand steps on a busy machine: at a load of 18,
    /train of 1,000 article steps passed the default 10 s a worker may take (503), where an idle
    machine takes a fraction of a second. The budgets themselves are tested in tests/test_hostile*.py."""
    return Settings(weights=WEIGHTS, job_wall_seconds=120, job_cpu_seconds=30)


def state(answer: dict) -> Run:
    return Run.decode(base64.b64decode(answer["resume"]))


def test_the_shipped_data_is_the_articles_small_run(mnist):
    data = small_mnist()
    assert data.train_images.shape == (10_000, 28, 28) and data.test_images.shape == (1_000, 28, 28)
    assert np.array_equal(data.train_images, mnist.train.images[:10_000])
    assert np.array_equal(data.test_labels, mnist.test.labels[:1_000])
    assert (model.data.FILE.parent / "MNIST-LICENCE.txt").read_text().count("CC BY-SA 3.0") == 1


def test_an_altered_data_file_is_refused(tmp_path, monkeypatch):
    altered = tmp_path / "mnist-small.npz"
    shutil.copy(model.data.FILE, altered)
    raw = bytearray(altered.read_bytes())
    raw[len(raw) // 2] ^= 1
    altered.write_bytes(bytes(raw))
    monkeypatch.setattr(model.data, "FILE", altered)
    small_mnist.cache_clear()
    try:
        with pytest.raises(DataError, match="SHA-256"):
            small_mnist()
    finally:
        small_mnist.cache_clear()
    assert hashlib.sha256(model.data.FILE.read_bytes()).hexdigest() != model.data.SHA256


def test_the_articles_recipe_is_as_written():
    article = RECIPES["article"]
    assert (article.batch_size, article.lr, article.momentum, article.shift) == (1, 0.005, 0.0, 0.5)
    run = Run.start("article", 5)
    for p in run.params.values():  # every weight and bias uniform in (-0.1, 0.1)
        assert p.dtype == np.float32 and np.abs(p).max() < 0.1
    assert run.params["w"].std() == pytest.approx(0.2 / np.sqrt(12), rel=0.05)
    assert run.velocity is None  # plain SGD: no optimiser state
    first = epoch_order(run.seed, 0, 10_000)
    assert sorted(first) == list(range(10_000)) and not np.array_equal(first, epoch_order(run.seed, 1, 10_000))


def test_one_codec_and_one_bound_for_client_params_and_run_states():
    run = Run.start("ours", 0)
    token = run.encode()
    assert token[HEADER.size :] == codec.to_bytes(run.params, run.velocity)  # the codec's layout after a header
    assert len(base64.b64encode(token)) == RESUME_MAX_LENGTH  # the largest state is exactly the request's bound
    assert len(codec.encode_params(run.params)) == codec.ENCODED_LENGTH
    over = {k: v.copy() for k, v in run.params.items()}
    over["w"][0, 0] = np.float32(codec.PARAM_LIMIT * 1.01)
    beyond = Run(run.recipe, 0, 0, over, run.velocity)
    assert not beyond.is_sane()
    with pytest.raises(codec.InvalidParams, match=f"beyond \\+-{codec.PARAM_LIMIT:g}"):
        codec.encode_params(over)
    with pytest.raises(InvalidRun, match=f"within \\+-{codec.PARAM_LIMIT:g}"):
        Run.decode(beyond.encode())


def test_the_live_recipe_steps_as_the_offline_trainer_does():
    """Our recipe's steps are the offline trainer's: its shuffle, cosine schedule and momentum update."""
    data = small_mnist()
    recipe = dataclasses.replace(RECIPES["ours"], augment=False)
    start = Run.start("ours", 4)
    params, state = {k: v.copy() for k, v in start.params.items()}, new_state("momentum", start.params)
    run = Run(recipe, 4, 0, start.params, start.velocity)
    run.train(data.train_images, data.train_labels, 3)
    order = epoch_order(4, 0, len(data.train_images))
    per_epoch = -(-len(data.train_images) // recipe.batch_size)
    for step in range(3):
        idx = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
        taught = gradients(params, data.train_images[idx].astype(np.float32) / 255, data.train_labels[idx])
        lr = cosine_lr(recipe.lr, step, recipe.epochs * per_epoch)
        update("momentum", params, state, taught.grads, lr, recipe.momentum, step)
    assert all(np.array_equal(run.params[k], params[k]) for k in params)
    assert all(np.array_equal(run.velocity[k], state[k]) for k in state)


@pytest.mark.parametrize("recipe, steps", [("article", 300), ("ours", 6)])
def test_the_endpoint_takes_the_models_own_steps_and_resumes_exactly(client, recipe, steps):
    """Resuming is exact: a run stopped and resumed is byte for byte the run taken in one go (the
    same service, the same machine). The steps are the model's own: Run.train in this process gives
    the same numbers to float32's rounding (this process may sum with another BLAS thread count than
    the service's workers, which changes the last bits on some CPUs: OpenBLAS's Haswell kernels)."""
    data = small_mnist()
    direct = Run.start(recipe, 3)
    direct_losses = direct.train(data.train_images, data.train_labels, steps)

    first = client.post("/train", json={"recipe": recipe, "seed": 3, "steps": steps // 3})
    assert first.status_code == 200
    second = client.post("/train", json={"resume": first.json()["resume"], "steps": steps - steps // 3})
    assert second.status_code == 200
    body = second.json()
    assert body["step"] == steps and body["recipe"] == recipe
    whole = client.post("/train", json={"recipe": recipe, "seed": 3, "steps": steps}).json()
    assert first.json()["losses"] + body["losses"] == whole["losses"]
    assert (body["resume"], body["params"]) == (whole["resume"], whole["params"])  # bit for bit

    assert first.json()["losses"] + body["losses"] == pytest.approx(direct_losses, rel=FLOAT32_STEPS)
    resumed = state(body)
    for name in direct.params:
        assert relative_error(resumed.params[name], direct.params[name]) < FLOAT32_STEPS
        if direct.velocity is not None:
            assert resumed.velocity is not None
            assert relative_error(resumed.velocity[name], direct.velocity[name]) < FLOAT32_STEPS
    assert (body["heldout_accuracy"], body["heldout_loss"]) == pytest.approx(
        direct.evaluate(data.test_images, data.test_labels), rel=FLOAT32_STEPS
    )
    assert 0 <= body["heldout_accuracy"] <= 1 and all(np.isfinite(body["losses"]))


def test_two_servers_give_byte_identical_answers(client):
    request = {"recipe": "ours", "seed": 9, "steps": 4}
    with TestClient(create_app(Settings(weights=WEIGHTS))) as other:
        assert client.post("/train", json=request).content == other.post("/train", json=request).content


def test_the_answers_params_read_drawings_as_the_run_reads_its_inputs(client):
    body = client.post("/train", json={"recipe": "article", "seed": 1, "steps": 1000}).json()
    run = state(body)
    data = small_mnist()
    served = CNN(decode_params(body["params"]))
    accuracy = (served.predict(data.test_images.astype(np.float32) / 255) == data.test_labels).mean()
    assert accuracy == pytest.approx(run.evaluate(data.test_images, data.test_labels)[0], abs=0.002)
    grid = (data.test_images[0] / 255).tolist()
    answer = client.post("/predict", json={"image": grid, "params": body["params"]})
    assert answer.status_code == 200 and answer.json()["label"] == int(served.predict(data.test_images[0] / 255)[0])


def test_a_run_learns(client):
    body = client.post("/train", json={"recipe": "article", "seed": 0, "steps": 1024}).json()
    for _ in range(2):
        body = client.post("/train", json={"resume": body["resume"], "steps": 1024}).json()
    assert body["heldout_accuracy"] > 0.8  # 3,072 images into the article's recipe
    assert np.mean(body["losses"][-200:]) < 1.0


def resume_with(run: Run, transform) -> str:
    raw = bytearray(run.encode())
    transform(raw)
    return base64.b64encode(bytes(raw)).decode()


def nan_inside(raw: bytearray) -> None:
    raw[HEADER.size : HEADER.size + 4] = np.float32(np.nan).tobytes()


@pytest.mark.parametrize(
    "body, words",
    [
        ({"recipe": "article", "steps": 1025}, "at most 1024 steps"),
        ({"recipe": "ours", "steps": 17}, "at most 16 steps"),
        ({"recipe": "ours", "steps": 0}, "greater than or equal to 1"),
        ({"recipe": "adam", "steps": 1}, "article"),
        ({"steps": 1}, 'either "recipe"'),
        ({"recipe": "article", "resume": "AAAA", "steps": 1}, 'either "recipe"'),
        ({"resume": "not base64!", "steps": 1}, "not valid base64"),
        ({"resume": base64.b64encode(b"hello").decode(), "steps": 1}, "not a training run"),
        ({"resume": resume_with(Run.start("ours", 0), lambda r: r.__delitem__(slice(-4, None))), "steps": 1}, "bytes"),
        ({"resume": resume_with(Run.start("article", 0), nan_inside), "steps": 1}, "NaN"),
        ({"resume": resume_with(Run.start("article", 0), lambda r: r.__setitem__(8, 7)), "steps": 1}, "unknown recipe"),
        ({"recipe": "article", "seed": -1, "steps": 1}, "greater than or equal to 0"),
        ({"recipe": "article", "steps": 1, "lr": 100}, "unknown field 'lr'"),
    ],
)
def test_malformed_training_requests_get_a_clear_422(client, body, words):
    r = client.post("/train", json=body)
    assert r.status_code == 422
    assert words in r.json()["detail"]


def test_past_the_trainers_bound_the_answer_is_429_with_retry_after():
    path = RequestPath(Settings(weights=WEIGHTS, pool_workers=1), None, None)  # type: ignore[arg-type]
    with path.training_slot(BY_NAME["train"]), path.training_slot(BY_NAME["train"]):
        assert TRAINERS_PER_WORKER == 2
        with pytest.raises(TooManyTrainers), path.training_slot(BY_NAME["train"]):
            pass
        with path.training_slot(BY_NAME["predict"]):  # the others are not counted
            pass
    with path.training_slot(BY_NAME["train"]):  # freed again
        pass
    answer = failure(TooManyTrainers("busy"))
    assert answer.status == 429 and answer.headers == {"Retry-After": "1"}


def test_the_replay_command_logs_each_epoch_beside_the_article(mnist_path, capsys):
    code = train_main(
        ["--recipe", "article", "--data-dir", str(mnist_path), "--epochs", "2", "--limit", "500", "--test-limit", "200"]
    )
    assert code == 0
    lines = [
        line for line in capsys.readouterr().out.splitlines() if line.startswith("| 1 ") or line.startswith("| 2 ")
    ]
    assert len(lines) == 2
    accuracy = float(lines[-1].split("|")[2].strip().rstrip("%"))
    assert accuracy > 50  # two epochs of 500 images
