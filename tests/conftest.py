from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

import model
from app.config import Settings
from app.main import create_app

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


@pytest.fixture(scope="module")
def settings() -> Settings:
    """The settings of the module's `client`: the committed weights. A module that needs others
    defines its own `settings` fixture."""
    return Settings(weights=WEIGHTS)


@pytest.fixture(scope="module")
def client(settings: Settings):
    """The service in this process, its lifespan run (the network loaded, the worker pool started)."""
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def batch():
    """Five images that exercise every path: ReLUs on both sides of 0 and max-pool windows tied at 0,
    with a float64 network whose biases are off 0 (so some windows of S1 are all negative), and labels."""
    rng = np.random.default_rng(7)
    net = model.CNN.random(seed=3, dtype=np.float64)
    net.params["b1"][:] = rng.normal(0, 0.3, 6)
    net.params["b2"][:] = rng.normal(0, 0.3, 12)
    images = rng.random((5, 28, 28))
    images[0, :14] = 0  # a blank half: whole pooling windows of C1 are 0, ties decided by rule
    return net, images, np.array([3, 1, 4, 1, 5])


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL server for the session (bench/postgres.py); each test makes its own database."""
    from bench.postgres import throwaway_cluster

    with throwaway_cluster() as url:
        yield url
