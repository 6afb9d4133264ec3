from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "weights" / "cnn.npz"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20200227)


def mnist_dir() -> Path | None:
    """$MNIST_DIR, else ../shared/mnist beside the project, else None."""
    if os.environ.get("MNIST_DIR"):
        return Path(os.environ["MNIST_DIR"])
    beside = ROOT.parent / "shared" / "mnist"
    return beside if beside.is_dir() else None


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    """The MNIST directory. Missing data fails the run in CI rather than skipping silently."""
    path = mnist_dir()
    if path is None or not path.is_dir():
        message = "MNIST not found: set MNIST_DIR to a directory holding the four IDX files"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def mnist(mnist_path: Path):
    from model.mnist import load_mnist

    return load_mnist(mnist_path)


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL server for the session (tests/postgres.py); each test makes its own database."""
    from tests.postgres import throwaway_cluster

    with throwaway_cluster() as url:
        yield url
