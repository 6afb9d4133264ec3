"""MNIST from its four IDX files: read, validate, and (optionally) download.

Where the files come from, first match wins:
  1. a directory passed in (the scripts' --data-dir),
  2. the MNIST_DIR environment variable,
  3. a cache directory (MNIST_CACHE_DIR, else ~/.cache/numpy-cnn/mnist), filled
     from a public mirror on first use and checked against the known SHA-256s.

Files may be gzip-compressed (name.gz) or not. Images come back as uint8
(N, 28, 28) with 0 = background and 255 = ink; labels as uint8 (N,).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .weights import atomic_write_bytes

ENV_DIR = "MNIST_DIR"
ENV_CACHE = "MNIST_CACHE_DIR"
ENV_MIRROR = "MNIST_MIRROR"

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# SHA-256 of each file's uncompressed bytes (the gzip bytes differ between mirrors).
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_IDX_MAGIC = {2049: 1, 2051: 3}  # labels: 1 dimension; images: 3 dimensions
_HOW_TO_POINT = (
    f"point --data-dir or the {ENV_DIR} environment variable at a directory holding "
    "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
    "t10k-labels-idx1-ubyte (each may be .gz)"
)


class MNISTError(RuntimeError):
    """MNIST files that are missing, corrupt, or cannot be downloaded; the message says which."""


class Split(NamedTuple):
    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) uint8


class MNIST(NamedTuple):
    train: Split
    test: Split


def parse_idx(data: bytes, source: str) -> np.ndarray:
    """The array held in the bytes of an uncompressed IDX file of unsigned bytes."""
    if len(data) < 4:
        raise MNISTError(f"{source}: too short to be an IDX file ({len(data)} bytes)")
    magic = int.from_bytes(data[:4], "big")
    if magic not in _IDX_MAGIC:
        raise MNISTError(f"{source}: magic number {magic} is not an MNIST IDX file (2049 or 2051)")
    ndim = _IDX_MAGIC[magic]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise MNISTError(f"{source}: truncated header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise MNISTError(f"{source}: header says shape {shape}, i.e. {expected} bytes, but the file has {len(data)}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx_file(path: Path) -> np.ndarray:
    """An IDX file, gzip-compressed or not (told apart by its first bytes, not its name)."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise MNISTError(f"{path}: cannot read: {e}") from None
    return parse_idx(raw, str(path))


def find_file(data_dir: Path, name: str) -> Path:
    for candidate in (data_dir / name, data_dir / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise MNISTError(f"{data_dir}: neither {name} nor {name}.gz found; {_HOW_TO_POINT}")


def load_split(data_dir: Path, split: str) -> Split:
    """The images and labels of "train" or "test", validated against each other."""
    image_name, label_name = FILES[split]
    images = read_idx_file(find_file(data_dir, image_name))
    labels = read_idx_file(find_file(data_dir, label_name))
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise MNISTError(f"{data_dir}/{image_name}: expected 28x28 images, got shape {images.shape}")
    if labels.ndim != 1:
        raise MNISTError(f"{data_dir}/{label_name}: expected a label file, got shape {labels.shape}")
    if len(images) != len(labels):
        raise MNISTError(f"{data_dir}: {len(images)} {split} images but {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise MNISTError(f"{data_dir}/{label_name}: label {labels.max()} is not a digit")
    return Split(images, labels)


def cache_dir() -> Path:
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "numpy-cnn" / "mnist"


def download(target: Path, mirrors: tuple[str, ...] | None = None, timeout: float = 30.0) -> Path:
    """Fill target with the four files from the first mirror that answers, each checked by SHA-256."""
    if mirrors is None:
        mirrors = (os.environ[ENV_MIRROR],) if os.environ.get(ENV_MIRROR) else MIRRORS
    for name, digest in SHA256.items():
        if (target / name).is_file():
            continue
        errors = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + f"/{name}.gz"
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    data = gzip.decompress(response.read())
            except (urllib.error.URLError, OSError, EOFError, ValueError) as e:
                errors.append(f"{url}: {e}")
                continue
            if hashlib.sha256(data).hexdigest() != digest:
                errors.append(f"{url}: SHA-256 mismatch, not the MNIST file")
                continue
            atomic_write_bytes(target / name, data)
            break
        else:
            raise MNISTError(f"could not download {name} ({'; '.join(errors)}); offline, {_HOW_TO_POINT}")
    return target


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None, *, allow_download: bool = True) -> Path:
    """The directory to read MNIST from, by the order in this module's docstring."""
    if data_dir is None and os.environ.get(ENV_DIR):
        data_dir = os.environ[ENV_DIR]
    if data_dir is not None:
        path = Path(data_dir).expanduser()
        if not path.is_dir():
            raise MNISTError(f"MNIST directory {path} does not exist; {_HOW_TO_POINT}")
        return path
    cached = cache_dir()
    if all((cached / name).is_file() for name in SHA256):
        return cached
    if not allow_download:
        raise MNISTError(f"no MNIST directory given and none cached in {cached}; {_HOW_TO_POINT}")
    return download(cached)


def load_mnist(data_dir: str | os.PathLike[str] | None = None, *, allow_download: bool = True) -> MNIST:
    """Both splits of MNIST, found as described in this module's docstring."""
    path = resolve_data_dir(data_dir, allow_download=allow_download)
    return MNIST(train=load_split(path, "train"), test=load_split(path, "test"))


def to_float(images: np.ndarray, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """uint8 pixels 0..255 -> floats in [0, 1], the network's input scale."""
    return images.astype(dtype) / 255
