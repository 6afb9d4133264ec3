"""What bench/db_faults.py and tests/test_hostile_round4_databases.py share: the service on a real
socket over a given database, a teacher's token, noise drawings written straight into the table, an
export whose client stops reading, a PostgreSQL server of one's own to restart and stop, a SQLite
file locked by another program or damaged.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import uvicorn

from app.config import Settings
from app.main import create_app
from bench.postgres import _as_owner, bin_dir, throwaway_cluster
from bench.servers import ROOT, free_port

WEIGHTS = ROOT / "weights" / "cnn.npz"
TOKEN = "a-teacher's-token-0123456789"
TEACHER = {"Authorization": f"Bearer {TOKEN}"}
ROWS = 12_000  # an export of noise this large (9.4 MB) cannot fit in loopback's socket buffers
INSERT = "INSERT INTO drawings (created_at, label, answer, probability, weights_sha256, grid) VALUES (?, ?, ?, ?, ?, ?)"


def settings(database_url: str) -> Settings:
    return Settings(weights=WEIGHTS, pool_workers=1, teacher_token=TOKEN, database_url=database_url)


def noise_rows(n: int, seed: int = 0) -> list[tuple[Any, ...]]:
    """Drawings of noise (the export cannot compress them away), straight into the table."""
    rng = np.random.default_rng(seed)
    grids = rng.random((n, 28 * 28), dtype=np.float32).astype("<f4")
    return [("2026-12-06T00:00:00Z", i % 10, i % 10, 0.5, "0" * 64, grids[i].tobytes()) for i in range(n)]


@contextmanager
def serving(database_url: str) -> Iterator[int]:
    """The service on a real socket (uvicorn in a thread): the port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings(database_url)), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def stalled_export(port: int) -> Iterator[tuple[socket.socket, bytes]]:
    """GET /drawings/export from a client that reads its first bytes and then stops reading: the
    socket and those bytes."""
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect(("127.0.0.1", port))
    client.sendall(f"GET /drawings/export HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
    first = client.recv(4096)
    if not first.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"the export did not start: {first[:80]!r}")
    try:
        yield client, first
    finally:
        client.close()


@contextmanager
def own_cluster() -> Iterator[tuple[str, str]]:
    """A PostgreSQL server of this test's own (it is restarted and stopped): its URL and data directory."""
    with throwaway_cluster() as url:
        with psycopg.connect(url) as conn:
            data = str(conn.execute("SHOW data_directory").fetchone()[0])
        yield url, data


def pg_ctl(data: str, *args: str) -> None:
    log = os.path.join(os.path.dirname(data), "log")  # the server started keeps no pipe of ours open
    command = [f"{bin_dir()}/pg_ctl", "-D", data, "-l", log, "-m", "fast", "-w", *args]
    subprocess.run(_as_owner(command), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


HOLD_THE_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
"""


def damage(path: Path, start: int = 4096) -> None:
    """Overwrite the file from `start` on with noise (by default every page but the first: the
    header and the schema)."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(start)
        f.write(np.random.default_rng(1).integers(0, 256, size - start, dtype=np.uint8).tobytes())
        os.fsync(f.fileno())
