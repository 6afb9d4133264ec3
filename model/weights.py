"""Weights on disk: an .npz of the parameters (never pickle) and a JSON sidecar of metadata.

    weights/cnn.npz    k1 b1 k2 b2 w b, one .npy each, in a zip with fixed timestamps,
                       so the same parameters always give the same bytes and SHA-256
    weights/cnn.json   what made them (accuracy, settings, date) and the .npz's SHA-256

Every write goes to a temporary file in the same directory and is then renamed
over the target, so a crash leaves the old file whole. The two files of a pair are kept
consistent by writing ahead: the new .npz first goes to cnn.npz.pending, then the .json
(which names the new SHA-256) replaces the old one, then the .pending file is renamed over
the .npz. A crash between the last two steps leaves a .json that matches cnn.npz.pending,
and the loader reads that: whenever the writer dies, the old pair or the new pair is read.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class WeightsError(ValueError):
    """A weights file that is missing, unreadable or does not match its metadata."""


def paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """weights/cnn, weights/cnn.npz or weights/cnn.json -> (the .npz, the .json)."""
    stem = Path(path)
    if stem.suffix in (".npz", ".json"):
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".json")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write data to path so that readers see either the old file or the whole new one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644  # mkstemp's 0600 would hide it
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The arrays as .npz bytes that np.load reads, identical for identical arrays."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, value in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            with zf.open(info, "w") as member:
                np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)
    return buf.getvalue()


def sha256_file(path: str | os.PathLike[str]) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def pending(npz: Path) -> Path:
    """Where a new .npz waits while its metadata is written (see the module docstring)."""
    return npz.with_name(npz.name + ".pending")


def save_params(path: str | os.PathLike[str], params: dict[str, np.ndarray], metadata: dict[str, Any]) -> Path:
    """Write params (.npz) and metadata plus the .npz's SHA-256 (.json) as a pair; returns the .npz path."""
    npz, sidecar = paths(path)
    data = npz_bytes(params)
    atomic_write_bytes(pending(npz), data)
    atomic_write_json(sidecar, {**metadata, "sha256": hashlib.sha256(data).hexdigest()})
    os.replace(pending(npz), npz)
    return npz


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON sidecar of a weights file, or WeightsError saying why it cannot be read."""
    _, sidecar = paths(path)
    try:
        meta = json.loads(sidecar.read_text())
    except FileNotFoundError:
        raise WeightsError(f"weights metadata {sidecar} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsError(f"weights metadata {sidecar} is unreadable: {e}") from None
    if not isinstance(meta, dict):
        raise WeightsError(f"weights metadata {sidecar} must hold a JSON object")
    return meta


def load_params(path: str | os.PathLike[str], *, verify: bool = True) -> dict[str, np.ndarray]:
    """Read the arrays of a weights file.

    With verify (the default), the .json sidecar must exist and its SHA-256 must
    match the .npz, so a damaged or swapped file is refused rather than served.
    """
    npz, sidecar = paths(path)
    interrupted = pending(npz)
    if not npz.is_file() and not interrupted.is_file():
        raise WeightsError(f"weights file {npz} not found")
    if verify:
        expected = read_metadata(npz).get("sha256")
        actual = sha256_file(npz) if npz.is_file() else None
        if expected != actual:
            if interrupted.is_file() and sha256_file(interrupted) == expected:
                npz = interrupted  # a save died after writing the metadata: its new .npz is whole
            else:
                raise WeightsError(f"weights file {npz} has SHA-256 {actual}, but {sidecar} records {expected}")
    try:
        with np.load(npz, allow_pickle=False) as z:
            return {name: z[name] for name in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise WeightsError(f"weights file {npz} is unreadable: {e}") from None
