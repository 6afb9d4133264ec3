"""Databases that fail, measured (issue 33, findings 5 and 6): run against this tree or an older one.

    python bench/db_faults.py [--root /tmp/old-tree] [--seconds 20]

1. SQLite: an export whose client reads 4 KiB and stops, while real saves (POST /drawings, four
   clients) run for --seconds: the WAL file's size before and after.
2. PostgreSQL: the same abandoned export: the longest open transaction of the service's connections
   (pg_stat_activity) after --seconds.
3. PostgreSQL restarted (pg_ctl restart -m fast): the first teacher read's status and time.
4. SQLite locked by another process (BEGIN IMMEDIATE): DELETE's status and time.
5. SQLite with every page but the first overwritten: summary, export and DELETE, and a new start.
Everything runs on 127.0.0.1: a throwaway PostgreSQL cluster (bench/postgres.py), uvicorn in a thread.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def saving(port: int, stop: threading.Event, counts: list[int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while not stop.is_set():
        conn.request("POST", "/drawings", SAVE, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        counts.append(response.status)


def saves_behind_an_abandoned_export(port: int, measure: Callable[[], Any]) -> tuple[list[int], Any]:
    """Four clients saving for --seconds while one export is abandoned: their statuses, and what
    `measure` finds then, the export still open."""
    stop, statuses = threading.Event(), []
    with t.stalled_export(port):
        savers = [threading.Thread(target=saving, args=(port, stop, statuses)) for _ in range(4)]
        for s in savers:
            s.start()
        time.sleep(args.seconds)
        stop.set()
        for s in savers:
            s.join()
        return statuses, measure()


def timed(call: Callable[[], Any]) -> str:
    start = time.perf_counter()
    response = call()
    return f"{response.status_code} in {time.perf_counter() - start:.2f} s: {response.text[:150]}"


def main() -> None:
    global args, t, EXAMPLE_GRID, SAVE, TestClient, create_app, psycopg, fresh_database, throwaway_cluster
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1], help="the tree to measure")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long saves run behind the abandoned export")
    args = parser.parse_args()
    os.chdir(args.root)
    sys.path.insert(0, str(args.root))  # its app/ and bench/, not this tree's (an older one: copy
    # bench/broken_databases.py, bench/postgres.py and bench/servers.py into it)
    import psycopg
    from fastapi.testclient import TestClient

    from app.api.requests import EXAMPLE_GRID
    from app.main import create_app
    from bench import broken_databases as t
    from bench.postgres import fresh_database, throwaway_cluster

    SAVE = f'{{"image": {EXAMPLE_GRID}, "label": 3}}'.replace(" ", "").encode()
    base = {"drawings_per_minute": 10**9}
    original = t.settings
    t.settings = lambda url: original(url).model_copy(update=base)  # type: ignore[assignment]
    home = Path(tempfile.mkdtemp(prefix="db-faults-"))
    path = home / "drawings.db"
    with t.serving(f"sqlite:///{path}") as port:
        saver = sqlite3.connect(path)
        with saver:
            saver.executemany(t.INSERT, t.noise_rows(t.ROWS))
        saver.close()
        wal = home / "drawings.db-wal"
        before = wal.stat().st_size if wal.exists() else 0
        statuses, after = saves_behind_an_abandoned_export(port, lambda: wal.stat().st_size)
    print(
        f"1. SQLite WAL, {args.seconds:g} s of saves ({len(statuses)}, {statuses.count(201)} x 201) behind an "
        f"abandoned export: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB"
    )

    with throwaway_cluster() as server:
        url = fresh_database(server)
        with t.serving(url) as port, psycopg.connect(url, autocommit=True) as watcher:
            with watcher.cursor() as cur:
                cur.executemany(t.INSERT.replace("?", "%s"), t.noise_rows(t.ROWS))
            statuses, held = saves_behind_an_abandoned_export(
                port,
                lambda: watcher.execute(
                    "SELECT state, round(extract(epoch FROM now() - xact_start)) FROM pg_stat_activity WHERE "
                    "datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
                ).fetchall(),
            )
        print(
            f"2. PostgreSQL, {args.seconds:g} s of saves ({statuses.count(201)} x 201) behind an abandoned export: "
            f"open transactions (state, seconds) {held or 'none'}"
        )

    with t.own_cluster() as (url, data), TestClient(create_app(t.settings(url)), raise_server_exceptions=False) as c:
        c.post("/drawings", json={"image": EXAMPLE_GRID, "label": 3})
        c.get("/drawings/summary", headers=t.TEACHER)
        t.pg_ctl(data, "restart")
        print("3. PostgreSQL restarted: first summary", timed(lambda: c.get("/drawings/summary", headers=t.TEACHER)))
        print("   first save", timed(lambda: c.post("/drawings", json={"image": EXAMPLE_GRID, "label": 3})))
        t.pg_ctl(data, "stop")
        print("   stopped: export", timed(lambda: c.get("/drawings/export", headers=t.TEACHER)))

    path = home / "locked.db"
    with TestClient(create_app(t.settings(f"sqlite:///{path}")), raise_server_exceptions=False) as c:
        c.post("/drawings", json={"image": EXAMPLE_GRID, "label": 3})
        holder = subprocess.Popen(
            [sys.executable, "-c", t.HOLD_THE_LOCK, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        print("4. SQLite locked: DELETE", timed(lambda: c.delete("/drawings/1", headers=t.TEACHER)))
        print("   save", timed(lambda: c.post("/drawings", json={"image": EXAMPLE_GRID, "label": 3})))
        holder.communicate("")

    path = home / "damaged.db"
    with TestClient(create_app(t.settings(f"sqlite:///{path}")), raise_server_exceptions=False) as c:
        writer = sqlite3.connect(path)
        with writer:
            writer.executemany(t.INSERT, t.noise_rows(400))
        writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        writer.close()
        t.damage(path)
        for what, call in [
            ("summary", lambda: c.get("/drawings/summary", headers=t.TEACHER)),
            ("export", lambda: c.get("/drawings/export", headers=t.TEACHER)),
            ("DELETE", lambda: c.delete("/drawings/1", headers=t.TEACHER)),
        ]:
            print(f"5. SQLite damaged: {what}", timed(call))
    try:
        with TestClient(create_app(t.settings(f"sqlite:///{path}"))):
            print("   a new start: started")
    except Exception as e:  # noqa: BLE001 -- what the start says is the measurement
        print(f"   a new start: {type(e).__name__}: {e}")
    shutil.rmtree(home)


if __name__ == "__main__":  # the worker pool starts processes that import this file
    main()
