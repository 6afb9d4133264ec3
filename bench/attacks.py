"""A real `python -m app` to attack, and the attacks: payloads within the documented limits.

bench/hostile.py measures them against the service's defaults; tests/test_hostile_server.py runs
them against small bounds. Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from bench.servers import cpu_seconds, free_port, resident_bytes, wait_until_healthy

ROOT = Path(__file__).resolve().parent.parent


class Server:
    """`python -m app` in a process of its own, with the settings in env (CNN_...=...)."""

    root = ROOT  # bench/hostile.py points it at another checkout to measure an older version

    def __init__(self, **env: str) -> None:
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # a pipe nobody reads would block the server once full
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "--port", str(self.port), "--log-level", "warning"],
            cwd=self.root,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until_healthy(self.port, self.proc)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def memory(self) -> int:
        return resident_bytes(self.proc.pid)


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


def upload(server: Server, data: bytes, timeout: float = 30) -> httpx.Response:
    return httpx.post(server.url + "/predict/image", files={"file": ("x", data)}, timeout=timeout)


def a_one() -> list[list[float]]:
    grid = np.zeros((28, 28))
    grid[4:24, 13:15] = 1
    return grid.tolist()


def predict_is_right(server: Server) -> bool:
    r = httpx.post(server.url + "/predict", json={"image": a_one()}, timeout=10)
    return r.status_code == 200 and r.json()["label"] == 1


def healthz_seconds(server: Server) -> float:
    started = time.perf_counter()
    assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
    return time.perf_counter() - started


def progressive_jpeg_with_empty_scans(scans: int) -> bytes:
    """A real progressive JPEG's header, then `scans` copies of a scan that carries no data."""
    buf = io.BytesIO()
    Image.fromarray(np.full((2048, 2048), 200, np.uint8)).save(buf, "JPEG", progressive=True)
    data = buf.getvalue()
    first_scan = data.index(b"\xff\xda")
    length = int.from_bytes(data[first_scan + 2 : first_scan + 4], "big")
    empty_scan = data[first_scan : first_scan + 2 + length]  # the SOS header alone
    return data[:first_scan] + empty_scan * scans + b"\xff\xd9"


def costly_png() -> bytes:
    """A 4096x4096 PNG of smooth noise (a few MB): decoding it takes about 0.3 s of CPU."""
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (512, 512), dtype=np.uint8)
    return png(np.kron(small, np.ones((8, 8), np.uint8)) + rng.integers(0, 3, (4096, 4096), dtype=np.uint8))
