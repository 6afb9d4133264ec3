"""Saving and loading: round trips, atomic writes, and refusing damaged files."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import model
from model import CNN, WeightsError
from model.weights import atomic_write_bytes, sha256_file


def test_save_load_round_trip(tmp_path, rng):
    net = CNN.random(seed=1)
    npz = net.save(tmp_path / "w", {"note": "hello"})
    loaded = model.load(npz)
    assert all(
        np.array_equal(loaded.params[k], net.params[k]) and loaded.params[k].dtype == np.float32 for k in net.params
    )
    images = rng.random((3, 28, 28))
    assert np.array_equal(loaded.predict_proba(images), net.predict_proba(images))
    meta = model.read_metadata(npz)
    assert meta["note"] == "hello"
    assert meta["sha256"] == sha256_file(npz)
    assert meta["architecture"]["num_params"] == 3898


def test_the_same_parameters_give_the_same_bytes(tmp_path):
    a = CNN.random(seed=1).save(tmp_path / "a")
    b = CNN.random(seed=1).save(tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()


def test_float64_survives_the_round_trip(tmp_path):
    net = CNN.random(seed=1, dtype=np.float64)
    assert model.load(net.save(tmp_path / "w")).dtype == np.float64


def test_a_changed_file_is_refused(tmp_path):
    npz = CNN.random().save(tmp_path / "w")
    data = bytearray(npz.read_bytes())
    data[-200] ^= 0xFF
    npz.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="SHA-256"):
        model.load(npz)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        model.load(tmp_path / "nothing.npz")
    npz = CNN.random().save(tmp_path / "w")
    npz.with_suffix(".json").unlink()
    with pytest.raises(WeightsError, match=r"metadata .*w\.json not found"):
        model.load(npz)
    assert model.load(npz, verify=False).params["k1"].shape == (6, 5, 5)


def test_garbage_and_wrong_shapes_are_refused(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(WeightsError, match="unreadable"):
        model.load(bad, verify=False)
    params = {**CNN.random().params, "w": np.zeros((10, 100), np.float32)}
    np.savez(tmp_path / "shapes.npz", **params)
    with pytest.raises(WeightsError, match=r"w must have shape \(10, 192\)"):
        model.load(tmp_path / "shapes.npz", verify=False)


def test_pickled_objects_are_never_loaded(tmp_path):
    params = {**CNN.random().params, "k1": np.array([{"evil": 1}], dtype=object)}
    np.savez(tmp_path / "pickled.npz", **params)
    with pytest.raises(WeightsError, match="unreadable"):
        model.load(tmp_path / "pickled.npz", verify=False)


def test_a_crash_while_writing_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")

    def crash(fd: int) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk on fire"):
        atomic_write_bytes(target, b"new" * 1000)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["file.bin"]  # no temporary file left behind


def test_metadata_that_is_not_json_is_reported(tmp_path):
    npz = CNN.random().save(tmp_path / "w")
    npz.with_suffix(".json").write_text("{not json")
    with pytest.raises(WeightsError, match="unreadable"):
        model.load(npz)
    npz.with_suffix(".json").write_text(json.dumps([1, 2]))
    with pytest.raises(WeightsError, match="JSON object"):
        model.load(npz)
