"""Round 4 (issue 33, findings 5 and 6): databases that fail cleanly, on a real SQLite file and a real
PostgreSQL server (bench/postgres.py).

An export whose client stops reading holds nothing in the database (SQLite's WAL stays small while
saves run; PostgreSQL has no open transaction) and is cut at its write deadline; a kept PostgreSQL
connection that died with a restart is replaced; a locked or damaged SQLite file, and a stopped
PostgreSQL, answer 503 with a sentence (the export before its first byte), never 500.
"""

from __future__ import annotations

import io
import socket
import sqlite3
import subprocess
import sys
import time
import zipfile
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.api.requests import EXAMPLE_GRID
from app.main import create_app
from bench.broken_databases import (
    HOLD_THE_LOCK,
    INSERT,
    ROWS,
    TEACHER,
    damage,
    noise_rows,
    own_cluster,
    pg_ctl,
    serving,
    settings,
    stalled_export,
)
from bench.postgres import fresh_database


def read_to_the_end(client: socket.socket, first: bytes) -> tuple[bytes, bool]:
    """What the server sent until it closed: the body (chunked encoding undone), and whether the
    chunked answer was complete (its last, empty chunk arrived)."""
    client.settimeout(60)
    parts = [first]
    while part := client.recv(1 << 16):
        parts.append(part)
    rest, body = b"".join(parts).split(b"\r\n\r\n", 1)[1], []
    while b"\r\n" in rest:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            return b"".join(body), True
        if len(rest) < size + 2:
            break
        body.append(rest[:size])
        rest = rest[size + 2 :]
    return b"".join(body), False


def test_an_abandoned_export_lets_sqlite_checkpoint_while_saves_run(tmp_path):
    path = tmp_path / "drawings.db"
    with serving(f"sqlite:///{path}") as port:
        saver = sqlite3.connect(path, isolation_level=None)
        saver.execute("PRAGMA synchronous=OFF")  # the test's own saves need not wait for the disk
        with saver:
            saver.execute("BEGIN")
            saver.executemany(INSERT, noise_rows(ROWS))
        saver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with stalled_export(port):
            time.sleep(1)  # the server has filled the socket's buffers and waits for the client
            for seed in range(300):  # 3,000 drawings in 300 commits: 12 MB of pages through the WAL
                with saver:
                    saver.execute("BEGIN")
                    saver.executemany(INSERT, noise_rows(10, seed))
            wal = (tmp_path / "drawings.db-wal").stat().st_size
        saver.close()
    # the autocheckpoint (1,000 pages) keeps restarting the WAL unless a reader holds an old snapshot
    assert wal < 8 * 1024 * 1024, f"the WAL grew to {wal / 1e6:.1f} MB behind an export nobody reads"


def test_an_abandoned_export_leaves_no_open_transaction_on_postgresql(postgres_server):
    url = fresh_database(postgres_server)
    with serving(url) as port, psycopg.connect(url, autocommit=True) as watcher:
        with watcher.cursor() as cur:
            cur.executemany(INSERT.replace("?", "%s"), noise_rows(ROWS))
        with stalled_export(port):
            time.sleep(1)
            open_transactions = watcher.execute(
                "SELECT state, now() - xact_start FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
            ).fetchall()
    assert open_transactions == []


def test_an_export_nobody_reads_is_cut_at_its_write_deadline_and_cannot_pass_for_complete(tmp_path, monkeypatch):
    import app.drawings.export

    monkeypatch.setattr(app.drawings.export, "WRITE_SECONDS", 1.0, raising=False)
    path = tmp_path / "drawings.db"
    with serving(f"sqlite:///{path}") as port:
        saver = sqlite3.connect(path)
        with saver:
            saver.executemany(INSERT, noise_rows(ROWS))
        saver.close()
        with stalled_export(port) as (client, first):
            time.sleep(4)  # past the deadline; then read what was sent before the cut
            body, complete = read_to_the_end(client, first)
    assert not complete  # the chunked answer never got its last chunk
    assert len(body) < ROWS * 784  # nowhere near the whole export
    with pytest.raises(zipfile.BadZipFile):  # and no zip reader takes what came for a file
        zipfile.ZipFile(io.BytesIO(body))


def test_a_database_failing_after_the_first_byte_leaves_an_export_that_cannot_pass_for_complete(tmp_path):
    path = tmp_path / "drawings.db"
    with serving(f"sqlite:///{path}") as port:
        saver = sqlite3.connect(path)
        with saver:
            saver.executemany(INSERT, noise_rows(ROWS))
        saver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        saver.close()
        with stalled_export(port) as (client, first):
            time.sleep(1)
            damage(path)  # the pages the export has not read yet
            body, complete = read_to_the_end(client, first)
    assert not complete and len(body) > 0  # it had begun
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(body))


def save(client: TestClient) -> int:
    return client.post("/drawings", json={"image": EXAMPLE_GRID, "label": 3}).status_code


def assert_unavailable(response: Any, words: str) -> None:
    assert response.status_code == 503, response.text
    assert words in response.json()["detail"] and response.headers["retry-after"]


def test_postgresql_restarted_then_stopped_answers_then_says_503_never_500():
    with own_cluster() as (url, data), TestClient(create_app(settings(url))) as client:
        assert save(client) == 201
        assert client.get("/drawings/summary", headers=TEACHER).status_code == 200  # a connection is kept
        pg_ctl(data, "restart")  # the kept connections (the writer's, the teacher's) are dead
        assert client.get("/drawings/summary", headers=TEACHER).json()["total"] == 1
        assert save(client) == 201
        assert client.get("/drawings", headers=TEACHER).status_code == 200
        pg_ctl(data, "stop")
        assert_unavailable(client.get("/drawings/export", headers=TEACHER), "cannot be reached")  # before a byte
        assert_unavailable(client.get("/drawings/summary", headers=TEACHER), "cannot be reached")
        assert_unavailable(client.delete("/drawings/1", headers=TEACHER), "cannot be reached")
        refused = client.post("/drawings", json={"image": EXAMPLE_GRID, "label": 3})  # anyone may save
        assert_unavailable(refused, "cannot be reached")
        assert "127.0.0.1" not in refused.text  # where the database lives is logged, not told


def test_a_sqlite_file_locked_by_another_program_answers_503_with_a_sentence(tmp_path):
    path = tmp_path / "drawings.db"
    with TestClient(create_app(settings(f"sqlite:///{path}"))) as client:
        assert save(client) == 201
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_THE_LOCK, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
            assert_unavailable(client.delete("/drawings/1", headers=TEACHER), "locked by another program")
            assert save(client) == 503
            assert client.get("/drawings", headers=TEACHER).status_code == 200  # WAL: readers still read
        finally:
            holder.communicate("")
        assert client.delete("/drawings/1", headers=TEACHER).status_code == 204


def test_a_damaged_sqlite_file_is_503_per_request_and_stops_the_start(tmp_path):
    from app.drawings.drawings_router import DrawingsUnavailable

    path = tmp_path / "drawings.db"
    with TestClient(create_app(settings(f"sqlite:///{path}"))) as client:
        writer = sqlite3.connect(path)
        with writer:
            writer.executemany(INSERT, noise_rows(400))
        writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        writer.close()
        damage(path)
        assert_unavailable(client.get("/drawings/summary", headers=TEACHER), "damaged")
        assert_unavailable(client.get("/drawings/export", headers=TEACHER), "damaged")  # before the first byte
        assert_unavailable(client.delete("/drawings/1", headers=TEACHER), "damaged")
        assert client.post("/predict", json={"image": EXAMPLE_GRID}).status_code == 200  # the rest still serves
    with pytest.raises(DrawingsUnavailable, match="damaged.*restore"):
        with TestClient(create_app(settings(f"sqlite:///{path}"))):
            pass


def test_a_sqlite_file_whose_last_pages_are_damaged_stops_the_start_though_its_schema_reads(tmp_path):
    from app.drawings.drawings_router import DrawingsUnavailable

    path = tmp_path / "drawings.db"
    with TestClient(create_app(settings(f"sqlite:///{path}"))):
        pass
    writer = sqlite3.connect(path)
    with writer:
        writer.executemany(INSERT, noise_rows(400))
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.close()
    damage(path, start=path.stat().st_size // 4096 // 2 * 4096)  # the newest drawings' pages only
    with pytest.raises(DrawingsUnavailable, match="damaged.*restore"):
        with TestClient(create_app(settings(f"sqlite:///{path}"))):
            pass
