"""The MNIST loader: real files, both encodings, clear errors, and a verified download."""

from __future__ import annotations

import functools
import gzip
import http.server
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from model.mnist import FILES, SHA256, MNISTError, download, load_mnist, load_split, resolve_data_dir


def test_real_mnist_matches_the_published_counts(mnist):
    assert mnist.train.images.shape == (60_000, 28, 28) and mnist.train.images.dtype == np.uint8
    assert mnist.test.images.shape == (10_000, 28, 28)
    assert np.bincount(mnist.train.labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert mnist.train.images.mean() == pytest.approx(33.3184, abs=1e-4)


def idx_bytes(array: np.ndarray) -> bytes:
    magic = 2051 if array.ndim == 3 else 2049
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def tiny_dir(tmp_path, rng) -> Path:
    """A test split of 5 images, images uncompressed and labels gzip-compressed."""
    images, labels = rng.integers(0, 256, (5, 28, 28)), np.array([0, 1, 2, 3, 9])
    (tmp_path / FILES["test"][0]).write_bytes(idx_bytes(images))
    (tmp_path / f"{FILES['test'][1]}.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    return tmp_path


def test_plain_and_gzip_files_both_load(tiny_dir):
    split = load_split(tiny_dir, "test")
    assert split.images.shape == (5, 28, 28)
    assert split.labels.tolist() == [0, 1, 2, 3, 9]


def test_a_missing_file_says_how_to_point_at_the_data(tiny_dir):
    with pytest.raises(MNISTError, match=r"train-images-idx3-ubyte\.gz found; point --data-dir or the MNIST_DIR"):
        load_split(tiny_dir, "train")


def test_a_wrong_magic_number_is_named(tiny_dir):
    path = tiny_dir / FILES["test"][0]
    path.write_bytes(b"\x00\x00\x09\x99" + path.read_bytes()[4:])
    with pytest.raises(MNISTError, match="magic number 2457 is not an MNIST IDX file"):
        load_split(tiny_dir, "test")


def test_a_truncated_file_is_named(tiny_dir):
    path = tiny_dir / FILES["test"][0]
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(MNISTError, match=r"header says shape \(5, 28, 28\).* but the file has"):
        load_split(tiny_dir, "test")


def test_a_broken_gzip_is_named(tiny_dir):
    path = tiny_dir / f"{FILES['test'][1]}.gz"
    path.write_bytes(path.read_bytes()[:15])
    with pytest.raises(MNISTError, match="cannot read"):
        load_split(tiny_dir, "test")


def test_images_and_labels_must_agree(tiny_dir):
    (tiny_dir / f"{FILES['test'][1]}.gz").write_bytes(gzip.compress(idx_bytes(np.array([1, 2, 3]))))
    with pytest.raises(MNISTError, match="5 test images but 3 labels"):
        load_split(tiny_dir, "test")


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(MNISTError, match="does not exist"):
        resolve_data_dir(tmp_path / "nowhere")


def test_the_environment_variable_points_at_the_data(tiny_dir, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(tiny_dir))
    assert resolve_data_dir() == tiny_dir


@pytest.fixture
def mirror(mnist_path, tmp_path):
    """A local HTTP mirror serving the .gz files of the shared MNIST copy."""
    root = tmp_path / "mirror"
    root.mkdir()
    for name in SHA256:
        shutil.copy(mnist_path / f"{name}.gz", root / f"{name}.gz")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def test_download_fills_the_cache_and_checks_every_file(mirror, tmp_path, monkeypatch):
    _, url = mirror
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MNIST_MIRROR", url)
    data = load_mnist()
    assert len(data.train.labels) == 60_000 and len(data.test.labels) == 10_000
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(SHA256)


def test_download_refuses_a_file_with_the_wrong_checksum(mirror, tmp_path):
    root, url = mirror
    (root / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01" + bytes(8)))
    with pytest.raises(MNISTError, match="SHA-256 mismatch"):
        download(tmp_path / "cache", mirrors=(url,))
    assert not (tmp_path / "cache" / "t10k-labels-idx1-ubyte").exists()


def test_offline_says_how_to_use_local_files(tmp_path):
    unreachable = ("http://127.0.0.1:9/",)  # the discard port: nothing listens
    with pytest.raises(MNISTError, match="could not download .*offline, point --data-dir or the MNIST_DIR"):
        download(tmp_path / "cache", mirrors=unreachable, timeout=2)
