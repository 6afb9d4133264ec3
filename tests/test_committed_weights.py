"""The one golden test: the committed weights do what their metadata says on the MNIST test set."""

from __future__ import annotations

import subprocess
import sys

import pytest

import model
from model.evaluate import evaluate
from tests.conftest import ROOT, WEIGHTS


@pytest.fixture(scope="module")
def committed():
    return model.load(WEIGHTS), model.read_metadata(WEIGHTS)


def test_metadata_describes_the_article_network(committed):
    _, meta = committed
    assert meta["architecture"]["num_params"] == 3898
    assert meta["train_images"] + meta["validation"]["images"] == 60_000
    assert meta["test_accuracy"] >= 0.990
    cal = meta["calibration"]
    assert 0.5 < cal["temperature"] < 2 and 0.5 < cal["unsure_below"] < 1
    assert cal["ece_after"] <= cal["ece_before"]  # on the validation split it was fitted on


def test_the_validation_split_is_the_recorded_one_and_outside_training(committed):
    import hashlib

    import numpy as np

    from model.training.schedule import split

    _, meta = committed
    train_idx, val_idx = split(60_000, meta["validation"]["images"])
    assert hashlib.sha256(val_idx.astype("<i8").tobytes()).hexdigest() == meta["validation"]["indices_sha256"]
    assert not np.intersect1d(train_idx, val_idx).size


def test_committed_weights_reach_their_recorded_accuracy(committed, mnist):
    net, meta = committed
    ev = evaluate(net, mnist.test.images, mnist.test.labels)
    assert ev.accuracy >= 0.990
    # Another BLAS may round a borderline image the other way; allow two images of 10,000.
    assert abs(ev.accuracy - meta["test_accuracy"]) <= 2 / 10_000
    assert abs(ev.confusion - meta["confusion"]).sum() <= 4


def test_the_evaluate_command_reports_accuracy_and_confusion(mnist_path):
    result = subprocess.run(
        [sys.executable, "-m", "model.evaluate", "--weights", str(WEIGHTS), "--data-dir", str(mnist_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "accuracy 9" in result.stdout and "confusion (rows: true digit" in result.stdout


def test_the_commands_fail_clearly_without_data(tmp_path):
    for command in (["model.evaluate", "--weights", str(WEIGHTS)], ["model.train", "--epochs", "1"]):
        result = subprocess.run(
            [sys.executable, "-m", *command, "--data-dir", str(tmp_path / "none")],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=300,
        )
        assert result.returncode == 2
        assert "does not exist; point --data-dir or the MNIST_DIR" in result.stderr
        assert "Traceback" not in result.stderr
