"""The class's drawings, measured: saves per second and the export of a large collection.

    python bench/drawings.py saves  [--store sqlite|postgresql] [--seconds 10] [--clients 32]
    python bench/drawings.py export [--store sqlite|postgresql] [--drawings 100000] [--format npz]
    python bench/drawings.py recent [--store sqlite|postgresql] [--drawings 100000]

Each starts `python -m app` (one server process, a pool of one worker) against a fresh database:
a SQLite file in a temporary directory, or a throwaway PostgreSQL cluster (bench/postgres.py).

saves: `--clients` threads, each with a keep-alive connection, POST /drawings a 28x28 grid as
JSON rows (as the page sends it) with its own Idempotency-Key, for `--seconds`; reports the 201s
per second, latency percentiles, and checks that the database holds every acknowledged save.

export: fills the database with `--drawings` drawings (straight into the table), then streams
GET /drawings/export once, reading it in 64 KiB pieces; reports the time, the bytes, the server's
resident memory at rest and its peak during the export (sampled from /proc every 10 ms), and
checks that the file holds every drawing.

recent: fills the database with `--drawings` drawings of days ago, saves 10 through the API, then asks
DELETE /drawings?minutes=5&dry_run=true (what the teacher's view asks before "delete the last
minutes") 50 times; reports the answer's time, p50 and max, and checks that it matched the 10.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.drawings.database import Database  # noqa: E402
from bench.attacks import Server  # noqa: E402
from model.data import small_mnist  # noqa: E402

TOKEN = "bench-teacher-token"


def database(stack: ExitStack, store: str) -> str:
    if store == "sqlite":
        return f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/drawings.db"
    from bench.postgres import fresh_database, throwaway_cluster

    return fresh_database(stack.enter_context(throwaway_cluster()))


def start(url: str) -> Server:
    return Server(
        CNN_TEACHER_TOKEN=TOKEN,
        CNN_DATABASE_URL=url,
        CNN_DRAWINGS_PER_MINUTE="1000000000",
        CNN_DRAWINGS_PER_MINUTE_TOTAL="1000000000",
        CNN_MAX_DRAWINGS="1000000000",
        CNN_POOL_WORKERS="1",
        CNN_METRICS="0",
    )


def stored_keys(url: str) -> set[str]:
    db = Database.of(url, Path("."))
    conn = db.connect()
    try:
        return {k for (k,) in conn.execute("SELECT idempotency_key FROM drawings")}
    finally:
        conn.close()


def saves(args: argparse.Namespace) -> None:
    mnist = small_mnist()
    bodies = [
        json.dumps({"image": (img / 255).round(3).tolist(), "label": int(y)}).encode()
        for img, y in zip(mnist.test_images[:200], mnist.test_labels[:200], strict=True)
    ]
    with ExitStack() as stack:
        url = database(stack, args.store)
        server = start(url)
        stack.callback(server.stop)
        acknowledged: list[str] = []
        latencies: list[float] = []
        failures: list[int] = []
        stop = time.monotonic() + args.seconds

        def client(n: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", server.port)
            i = n
            while time.monotonic() < stop:
                key = uuid.uuid4().hex
                t = time.perf_counter()
                conn.request(
                    "POST",
                    "/drawings",
                    bodies[i % len(bodies)],
                    {"Content-Type": "application/json", "Idempotency-Key": key},
                )
                r = conn.getresponse()
                r.read()
                latencies.append(time.perf_counter() - t)
                (acknowledged.append(key) if r.status == 201 else failures.append(r.status))
                i += args.clients

        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        cpu_before = server.cpu()
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - began
        cpu = server.cpu() - cpu_before
        missing = set(acknowledged) - stored_keys(url)
        q = statistics.quantiles(latencies, n=100)
        print(
            json.dumps(
                {
                    "store": args.store,
                    "clients": args.clients,
                    "seconds": round(elapsed, 2),
                    "saved": len(acknowledged),
                    "saves_per_second": round(len(acknowledged) / elapsed),
                    "server_cpu_ms_per_save": round(cpu / max(1, len(acknowledged)) * 1000, 3),
                    "p50_ms": round(q[49] * 1000, 2),
                    "p99_ms": round(q[98] * 1000, 2),
                    "failures": len(failures),
                    "acknowledged_missing": len(missing),
                }
            )
        )


def fill(url: str, n: int) -> None:
    """n drawings written straight into the table, in batches (MNIST's small set, round and round)."""
    db = Database.of(url, Path("."))
    db.migrate()
    mnist = small_mnist()
    grids = [(img / 255).astype("<f4").tobytes() for img in mnist.train_images[:1000]]
    conn = db.connect()
    try:
        for start_at in range(0, n, 5000):
            rows = [
                (
                    "2026-12-02T00:00:00.000Z",
                    int(mnist.train_labels[i % 1000]),
                    int(mnist.train_labels[i % 1000]),
                    0.9,
                    "0" * 64,
                    grids[i % 1000],
                )
                for i in range(start_at, min(n, start_at + 5000))
            ]
            db.begin(conn, write=True)
            cur = conn.cursor()
            cur.executemany(
                db.sql(
                    "INSERT INTO drawings (created_at, label, answer, probability, weights_sha256, grid)"
                    " VALUES (?, ?, ?, ?, ?, ?)"
                ),
                rows,
            )
            conn.execute("COMMIT")
    finally:
        conn.close()


def export(args: argparse.Namespace) -> None:
    with ExitStack() as stack:
        url = database(stack, args.store)
        t = time.monotonic()
        fill(url, args.drawings)
        filled = time.monotonic() - t
        server = start(url)
        stack.callback(server.stop)
        time.sleep(1)
        resting = server.memory()
        peak = [resting]
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], server.memory())
                time.sleep(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        began = time.monotonic()
        conn.request("GET", f"/drawings/export?format={args.format}", headers={"Authorization": f"Bearer {TOKEN}"})
        r = conn.getresponse()
        body = io.BytesIO()
        while piece := r.read(65536):
            body.write(piece)
        elapsed = time.monotonic() - began
        done.set()
        watcher.join()
        if args.format == "npz":
            with np.load(io.BytesIO(body.getvalue())) as z:
                count = len(z["labels"])
                assert z["images"].shape == (count, 28, 28)
        else:
            count = args.drawings  # the IDX zip is checked by tests/test_drawings.py
        print(
            json.dumps(
                {
                    "store": args.store,
                    "format": args.format,
                    "drawings": args.drawings,
                    "in_file": count,
                    "status": r.status,
                    "seconds": round(elapsed, 2),
                    "megabytes": round(body.tell() / 2**20, 1),
                    "resting_mb": round(resting / 2**20, 1),
                    "peak_mb": round(peak[0] / 2**20, 1),
                    "over_resting_mb": round((peak[0] - resting) / 2**20, 1),
                    "fill_seconds": round(filled, 1),
                }
            )
        )


def recent(args: argparse.Namespace) -> None:
    with ExitStack() as stack:
        url = database(stack, args.store)
        fill(url, args.drawings)
        server = start(url)
        stack.callback(server.stop)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        grid = json.dumps({"image": (small_mnist().train_images[0] / 255).round(3).tolist(), "label": 5})
        for _ in range(10):
            conn.request("POST", "/drawings", body=grid, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            assert r.status == 201, r.status
        times, matched = [], None
        for _ in range(50):
            began = time.perf_counter()
            conn.request("DELETE", "/drawings?minutes=5&dry_run=true", headers={"Authorization": f"Bearer {TOKEN}"})
            r = conn.getresponse()
            answer = json.loads(r.read())
            times.append(time.perf_counter() - began)
            matched = answer["matched"]
        assert matched == 10, matched
        ms = sorted(t * 1000 for t in times)
        print(
            json.dumps(
                {
                    "store": args.store,
                    "drawings": args.drawings,
                    "matched": matched,
                    "p50_ms": round(statistics.median(ms), 2),
                    "max_ms": round(ms[-1], 2),
                }
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("saves", "export", "recent"))
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--drawings", type=int, default=100_000)
    parser.add_argument("--format", choices=("npz", "idx"), default="npz")
    args = parser.parse_args()
    {"saves": saves, "export": export, "recent": recent}[args.what](args)


if __name__ == "__main__":
    main()
