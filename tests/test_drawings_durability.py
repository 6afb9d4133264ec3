"""A 201 means committed: SIGKILL the server in the middle of eight clients saving, and every
save it acknowledged is in the database, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid

import httpx
import pytest

from app.api.requests import EXAMPLE_GRID
from bench.attacks import Server
from bench.postgres import fresh_database

CLIENTS = 8


def saving_until_killed(server: Server, acknowledged: dict[str, int], stop: threading.Event) -> None:
    with httpx.Client(base_url=server.url, timeout=5) as http:
        while not stop.is_set():
            key = uuid.uuid4().hex
            try:
                r = http.post("/drawings", json={"image": EXAMPLE_GRID, "label": 7}, headers={"Idempotency-Key": key})
            except httpx.HTTPError:
                return  # the server is gone
            if r.status_code == 201:
                acknowledged[key] = r.json()["id"]


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_sigkill_while_eight_clients_save_loses_no_acknowledged_drawing(store, tmp_path, request):
    if store == "sqlite":
        url = f"sqlite:///{tmp_path / 'drawings.db'}"
    else:
        url = fresh_database(request.getfixturevalue("postgres_server"))
    server = Server(
        CNN_TEACHER_TOKEN="durability-token-0123",
        CNN_DATABASE_URL=url,
        CNN_DRAWINGS_PER_MINUTE="1000000000",
        CNN_DRAWINGS_PER_MINUTE_TOTAL="1000000000",
        CNN_POOL_WORKERS="1",
    )
    acknowledged: dict[str, int] = {}
    stop = threading.Event()
    clients = [threading.Thread(target=saving_until_killed, args=(server, acknowledged, stop)) for _ in range(CLIENTS)]
    try:
        for c in clients:
            c.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.proc.kill()  # SIGKILL, with saves in flight
        server.proc.wait()
    finally:
        stop.set()
        for c in clients:
            c.join()
        server.stop()
    assert len(acknowledged) >= 300
    if store == "sqlite":
        with sqlite3.connect(tmp_path / "drawings.db") as db:
            stored = dict(db.execute("SELECT idempotency_key, id FROM drawings").fetchall())
    else:
        import psycopg

        with psycopg.connect(url) as db:
            stored = dict(db.execute("SELECT idempotency_key, id FROM drawings").fetchall())
    missing = {k: i for k, i in acknowledged.items() if stored.get(k) != i}
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged saves are not in the database"
