"""Training on real MNIST: it learns, it is deterministic, and --resume continues exactly."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

import model
import model.train as train_module
from model.mnist import to_float
from model.train import train
from model.training.ahead import drawn_ahead
from model.training.checkpoints import CheckpointError
from model.training.cli import TRAINED, parser, recipe_of
from model.training.optimizers import new_state, update
from model.training.recipes import ENCODED, NAMES, RECIPES, Recipe, initial_params
from model.training.steps import Drawn, State, batches, steps
from tests.conftest import WEIGHTS

QUICK = Recipe(epochs=2, batch_size=32, lr=0.05, momentum=0.9, seed=0, limit=4000)


@pytest.fixture(scope="module")
def quick_run(mnist_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("quick") / "w"
    metadata = train(QUICK, str(mnist_path), str(out))
    return out, metadata


def test_a_short_run_lowers_the_loss_and_beats_90_percent_on_held_out_images(quick_run, mnist):
    out, metadata = quick_run
    images, labels = to_float(mnist.train.images[:4000]), mnist.train.labels[:4000].astype(np.int64)
    loss_before, _ = model.CNN.random(seed=QUICK.seed).loss_and_gradients(images, labels)
    loss_after, _ = model.load(out).loss_and_gradients(images, labels)
    assert loss_after < 0.5 * loss_before
    assert metadata["test_accuracy"] > 0.90  # the 10,000 test images, none seen in training
    assert metadata["history"][1]["train_loss"] < metadata["history"][0]["train_loss"]


def test_metadata_records_what_made_the_weights(quick_run):
    out, metadata = quick_run
    on_disk = model.read_metadata(out)
    assert on_disk["test_accuracy"] == metadata["test_accuracy"]
    assert on_disk["hyperparameters"] == {
        "name": "custom",
        "epochs": 2,
        "batch_size": 32,
        "lr": 0.05,
        "momentum": 0.9,
        "seed": 0,
        "limit": 4000,
        "optimizer": "momentum",
        "augment": False,
        "validation": 0,
        "clean_epochs": 0,
        "clean_lr": 0.0,
        "clean_redrawn": 0.0,
        "n1": 6,
        "n2": 12,
        "k": 5,
        "label_smoothing": 0.0,
        "teacher": None,
        "temperature": 4.0,
        "distill": 0.0,
        "ema": 0.0,
        "test": True,
        "cosine": True,
        "init": "he",
        "shift": 0.0,
        "seeding": "epoch",
        "threads": 1,
    }
    assert len(on_disk["per_class_accuracy"]) == 10 and len(on_disk["history"]) == 2
    assert np.array(on_disk["confusion"]).sum() == 10_000
    assert {"date", "numpy_version", "sha256", "architecture", "epochs"} <= set(on_disk)


def test_the_same_seed_gives_the_same_weights(quick_run, mnist_path, tmp_path):
    out, _ = quick_run
    again = tmp_path / "again"
    train(QUICK, str(mnist_path), str(again))
    assert (tmp_path / "again.npz").read_bytes() == out.with_name("w.npz").read_bytes()


def test_resume_after_a_crash_gives_the_same_weights(quick_run, mnist_path, tmp_path, monkeypatch):
    out, _ = quick_run
    real_save = train_module.save_checkpoint

    def save_then_crash(*args, **kwargs):
        real_save(*args, **kwargs)
        raise KeyboardInterrupt  # killed right after the first epoch's checkpoint

    monkeypatch.setattr(train_module, "save_checkpoint", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train(QUICK, str(mnist_path), str(tmp_path / "w"))
    assert not (tmp_path / "w.npz").exists()
    monkeypatch.setattr(train_module, "save_checkpoint", real_save)
    metadata = train(QUICK, str(mnist_path), str(tmp_path / "w"), resume=True)
    assert [h["epoch"] for h in metadata["history"]] == [1, 2]
    assert (tmp_path / "w.npz").read_bytes() == out.with_name("w.npz").read_bytes()


def test_resume_refuses_different_settings(mnist_path, tmp_path):
    tiny = Recipe(epochs=1, limit=64)
    train(tiny, str(mnist_path), str(tmp_path / "w"))
    with pytest.raises(CheckpointError, match=r"lr=0\.05 \(now 0\.1\)"):
        train(Recipe(epochs=1, limit=64, lr=0.1), str(mnist_path), str(tmp_path / "w"), resume=True)


def test_a_validation_run_holds_out_its_split_calibrates_and_augments(mnist_path, tmp_path):
    cfg = Recipe(
        epochs=2, batch_size=64, lr=0.05, limit=3000, augment=True, validation=500, clean_epochs=1, optimizer="nesterov"
    )
    metadata = train(cfg, str(mnist_path), str(tmp_path / "v"))
    assert metadata["validation"]["images"] == 500 and metadata["train_images"] == 2500
    assert {"validation_loss", "validation_accuracy"} <= set(metadata["history"][0])
    assert "test_accuracy" not in metadata["history"][0]  # the test set is scored once, at the end
    cal = metadata["calibration"]
    assert cal["temperature"] > 0 and 0 <= cal["unsure_below"] <= 1 and cal["ece_after"] >= 0
    assert metadata["augmentation"]["epochs"] == 1
    again = train(cfg, str(mnist_path), str(tmp_path / "again"))  # augmentation is seeded: same bytes
    assert (tmp_path / "again.npz").read_bytes() == (tmp_path / "v.npz").read_bytes()
    assert again["validation"]["indices_sha256"] == metadata["validation"]["indices_sha256"]


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "adam"])
def test_every_optimizer_lowers_the_loss_of_a_batch(optimizer, mnist):
    images, labels = to_float(mnist.train.images[:256]), mnist.train.labels[:256].astype(np.int64)
    cfg = Recipe(optimizer=optimizer, lr=0.003 if optimizer == "adam" else 0.05)
    net = model.CNN.random(seed=0)
    state = new_state(cfg.optimizer, net.params)
    before, _ = net.loss_and_gradients(images, labels)
    for step in range(20):
        _, grads = net.loss_and_gradients(images, labels)
        update(cfg.optimizer, net.params, state, grads, cfg.lr, cfg.momentum, step)
    after, _ = net.loss_and_gradients(images, labels)
    assert after < 0.7 * before


def test_one_table_names_every_recipe_and_the_command_line_overrides_only_what_it_is_given():
    assert all(recipe.name == name for name, recipe in RECIPES.items())
    assert {*NAMES, *ENCODED, "teacher", "student"} <= set(RECIPES)
    assert "class" not in TRAINED  # it needs the served weights and a class's drawings
    assert recipe_of(parser().parse_args([])) == Recipe()
    given = parser().parse_args(["--recipe", "teacher", "--epochs", "2", "--kernel", "3", "--no-test", "--out", "x"])
    assert recipe_of(given) == replace(RECIPES["teacher"], epochs=2, k=3, test=False)
    assert recipe_of(parser().parse_args(["--augment", "--optimizer", "sgd"])) == Recipe(augment=True, optimizer="sgd")


def test_a_run_seeded_by_epoch_starts_at_an_epochs_first_step(mnist):
    images, labels = mnist.train.images[:100], mnist.train.labels[:100].astype(np.int64)
    net = model.CNN.random(seed=0)
    state = State(net.params, new_state("momentum", net.params), None, 1)
    with pytest.raises(ValueError, match="epoch's first step"):
        next(steps(Recipe(batch_size=50), 0, state, images, labels, 1))
    state.step = 2  # the second epoch's first step: taken
    assert [s.images for s in steps(Recipe(batch_size=50), 0, state, images, labels, 2)] == [50, 50]
    assert state.step == 4


def test_a_recipe_starts_from_its_seed_or_from_weights():
    assert np.array_equal(initial_params(Recipe(), 3)["k1"], model.CNN.random(seed=3).params["k1"])
    uniform = initial_params(RECIPES["article"], 3)
    assert all(p.dtype == np.float32 and np.abs(p).max() < 0.1 for p in uniform.values())
    tuned = initial_params(Recipe(init=str(WEIGHTS)), 3)  # a fine-tune: the weights, whatever the seed
    assert all(np.array_equal(tuned[k], v) for k, v in model.load(WEIGHTS).params.items())
    with pytest.raises(ValueError, match="not the recipe's"):
        initial_params(Recipe(init=str(WEIGHTS), n1=8), 3)
    with pytest.raises(ValueError, match="served"):
        initial_params(RECIPES["class"], 3)


def test_an_experiment_never_reads_the_test_set_and_the_chosen_one_reads_it_once(mnist_path, tmp_path, capsys):
    """Issue 37's honest selection: --no-test runs choose on the validation split; the weights chosen
    get the test set's figures once (python -m model.evaluate --record), and a second reading is refused.
    The warm restart and the share still redrawn in the clean epochs run here too."""
    from model.evaluate import main as evaluate_main

    cfg = Recipe(
        epochs=2,
        batch_size=64,
        lr=0.05,
        limit=3000,
        augment=True,
        validation=500,
        clean_epochs=1,
        clean_lr=0.01,
        clean_redrawn=0.5,
        test=False,
    )
    metadata = train(cfg, str(mnist_path), str(tmp_path / "x"))
    assert metadata["test_accuracy"] is None and "test_ece_after" not in metadata["calibration"]
    assert cfg.lr_at(0, 40) == 0.05 and cfg.lr_at(40, 40) == 0.01 and cfg.lr_at(79, 40) < 0.001  # the restart
    weights = str(tmp_path / "x.npz")
    assert evaluate_main(["--weights", weights, "--data-dir", str(mnist_path), "--record"]) == 0
    recorded = model.read_metadata(weights)
    assert recorded["test_accuracy"] > 0.8 and sum(map(sum, recorded["confusion"])) == 10_000
    assert recorded["calibration"]["test_ece_after"] >= 0
    model.load(weights)  # the .npz is as its SHA-256 in the .json says
    capsys.readouterr()
    assert evaluate_main(["--weights", weights, "--data-dir", str(mnist_path), "--record"]) == 2
    assert "read once" in capsys.readouterr().err


def test_on_two_threads_a_run_draws_its_batches_ahead_and_takes_the_same_steps_bit_for_bit(mnist):
    """--threads 2: each batch drawn (redrawn at random) ahead by a process of its own, the same
    images in the same order, the steps those of one thread, bit for bit; a drawing that fails is said."""
    images, labels = mnist.train.images[:640], mnist.train.labels[:640].astype(np.int64)
    recipe = Recipe(batch_size=64, augment=True, seed=3)
    drawn = list(batches(recipe, 3, 0, images, labels, 10, None))
    ahead = list(drawn_ahead(lambda: batches(recipe, 3, 0, images, labels, 10, None)))
    assert len(ahead) == 10 and all(
        np.array_equal(a.x, b.x) and np.array_equal(a.labels, b.labels) for a, b in zip(drawn, ahead, strict=True)
    )
    runs = []
    for threads in (1, 2):
        net = model.CNN.random(seed=0)
        state = State(net.params, new_state("momentum", net.params))
        taken = list(steps(replace(recipe, threads=threads), 3, state, images, labels, 10))
        runs.append((net.params, [s.loss for s in taken], state.step))
    (one, losses1, steps1), (two, losses2, steps2) = runs
    assert steps1 == steps2 == 10 and losses1 == losses2
    assert all(np.array_equal(one[k], two[k]) for k in one)
    assert not all(np.array_equal(one[k], model.CNN.random(seed=0).params[k]) for k in one)  # it trained

    def broken() -> Iterator[Drawn]:
        yield drawn[0]
        raise OSError("disk gone")

    got = drawn_ahead(broken)
    assert np.array_equal(next(got).x, drawn[0].x)
    with pytest.raises(RuntimeError, match="drawing a batch failed: OSError: disk gone"):
        next(got)
    early = drawn_ahead(lambda: batches(recipe, 3, 0, images, labels, 10, None))
    next(early)
    early.close()  # the last step taken, ^C: the drawing process ends with it
    assert not [p for p in multiprocessing.active_children() if p.name == "drawing batches"]
