"""Lessons with a class, measured on loopback: the live board under a class saving at once, idle streams,
restarts, and hostile clients. Every scenario is bounded in count and time and stops by itself.

    python bench/classes.py lesson  [--store sqlite|postgresql] [--phones 200]
    python bench/classes.py idle    [--streams 200] [--seconds 10]
    python bench/classes.py restart [--saves 20]
    python bench/classes.py outage  [--saves 10]
    python bench/classes.py hostile

lesson: a class on SQLite (one server, two worker processes) or PostgreSQL (two replicas); a board
(the teacher's stream) on one process/replica, `--phones` phone streams open, then `--phones` saves sent
at once (a barrier) to the other(s); the delay from each save's 201 to its event on the board, p50/p95/max,
and whether every save arrived. idle: the server's CPU over `--seconds` with `--streams` open and
nothing happening, against none open. restart: the board's server is killed mid-lesson and started
again on its port while another server process on the same SQLite file takes saves; the board
reconnects with Last-Event-ID: saves missed (must be 0). outage: PostgreSQL stopped mid-lesson: saves
get 503 and a sentence, then PostgreSQL starts and saves resume; the board catches up. hostile: a
stream flood from one address, forged Last-Event-IDs, unknown codes tried fast, a phone's stream while
the class saves.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import attacks  # noqa: E402
from bench.attacks import Server  # noqa: E402

TOKEN = "bench-teachers-token-2026"
TEACHER = {"Authorization": f"Bearer {TOKEN}"}
SETTINGS = {"CNN_TEACHER_TOKEN": TOKEN, "CNN_DRAWINGS_PER_MINUTE": "1000000000", "CNN_POOL_WORKERS": "1"}


def database(stack: ExitStack, store: str) -> str:
    if store == "sqlite":
        return f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/drawings.db"
    from bench.postgres import fresh_database, throwaway_cluster

    return fresh_database(stack.enter_context(throwaway_cluster()))


def server(stack: ExitStack, url: str, **env: str) -> Server:
    s = Server(**SETTINGS, CNN_DATABASE_URL=url, **env)
    stack.callback(s.stop)
    return s


class Stream:
    """An SSE stream read in a thread: (arrival time, event, data) for each event."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, reconnect: bool = False) -> None:
        self.url, self.headers, self.reconnect = url, dict(headers or {}), reconnect
        self.got: list[tuple[float, str, dict]] = []
        self.status: int | None = None
        self.last: str | None = None
        self.stopped = False
        self.client = httpx.Client(timeout=httpx.Timeout(5, read=None))
        self.opened = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self.opened.wait(20)

    def _run(self) -> None:
        while not self.stopped:
            headers = self.headers | ({"Last-Event-ID": self.last} if self.last else {})
            try:
                with self.client.stream("GET", self.url, headers=headers) as r:
                    self.status = r.status_code
                    self.opened.set()
                    kind = None
                    for line in r.iter_lines():
                        if line.startswith("id: "):
                            self.last = line[4:]
                        elif line.startswith("event: "):
                            kind = line[7:]
                        elif line.startswith("data: ") and kind:
                            self.got.append((time.monotonic(), kind, json.loads(line[6:])))
            except (httpx.HTTPError, RuntimeError):
                pass
            self.opened.set()
            if not self.reconnect:
                return
            time.sleep(1)  # as the board's own reconnection

    def ids(self) -> dict[int, float]:
        return {d["id"]: t for t, kind, d in self.got if kind == "drawing"}

    def close(self) -> None:
        self.stopped = True
        self.client.close()


def grid(rng: np.random.Generator) -> list[list[float]]:
    return np.round(rng.random((28, 28)) * (rng.random((28, 28)) > 0.7), 3).tolist()


def open_class(url: str) -> str:
    return httpx.post(f"{url}/classes", json={"name": "bench"}, headers=TEACHER).json()["code"]


def saves_at_once(urls: list[str], code: str, n: int) -> list[tuple[int, int, float]]:
    """n saves released together, spread over urls: (status, id, time of the answer) each."""
    barrier, out = threading.Barrier(n), [(0, 0, 0.0)] * n
    rng = np.random.default_rng(0)
    bodies = [json.dumps({"image": grid(rng), "label": i % 10, "class": code}) for i in range(n)]

    def one(i: int) -> None:
        with httpx.Client(timeout=60) as c:
            url = urls[i % len(urls)]
            c.get(f"{url}/healthz")  # the connection made before the barrier
            barrier.wait()
            r = c.post(f"{url}/drawings", content=bodies[i], headers={"Content-Type": "application/json"})
            out[i] = (r.status_code, r.json().get("id", 0) if r.status_code == 201 else 0, time.monotonic())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def wait_for(stream: Stream, ids: set[int], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not ids <= set(stream.ids()) and time.monotonic() < deadline:
        time.sleep(0.05)


def percentiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100) if len(values) > 1 else values * 99
    return f"p50 {1000 * q[49]:.0f} ms, p95 {1000 * q[94]:.0f} ms, max {1000 * max(values):.0f} ms"


def lesson(store: str, phones: int) -> None:
    with ExitStack() as stack:
        url = database(stack, store)
        if store == "sqlite":  # one server, two worker processes on one file
            servers = [server(stack, url, CNN_WORKERS="2")]
            board_url, save_urls = servers[0].url, [servers[0].url]
        else:  # two replicas on one PostgreSQL: the board on one, the saves on the other
            servers = [server(stack, url), server(stack, url)]
            board_url, save_urls = servers[0].url, [servers[1].url]
        code = open_class(board_url)
        board = Stream(f"{board_url}/classes/{code}/events", TEACHER)
        listeners = [Stream(f"{board_url}/classes/{code}/events") for _ in range(phones)]
        stack.callback(lambda: [s.close() for s in [board, *listeners]])
        time.sleep(0.5)
        answers = saves_at_once(save_urls, code, phones)
        stored = {i: t for status, i, t in answers if status == 201}
        wait_for(board, set(stored))
        heard = board.ids()
        delays = [heard[i] - t for i, t in stored.items() if i in heard]
        statuses = sorted({a[0] for a in answers})
        phones_heard = sum(1 for s in listeners for _, kind, _ in s.got if kind == "drawing")
        print(f"lesson ({store}): {phones} phone streams open, {phones} saves at once -> statuses {statuses}, "
              f"{len(stored)} stored, {len(heard)} on the board, missed {len(set(stored) - set(heard))}; "
              f"delay from 201 to the board: {percentiles(delays)}; drawing events on the phones' streams: "
              f"{phones_heard}")  # fmt: skip


def idle(streams: int, seconds: float) -> None:
    with ExitStack() as stack:
        s = server(stack, database(stack, "sqlite"))
        code = open_class(s.url)
        time.sleep(1)
        before = s.cpu()
        time.sleep(seconds)
        none = s.cpu() - before
        opened = [Stream(f"{s.url}/classes/{code}/events", TEACHER if i == 0 else None) for i in range(streams)]
        stack.callback(lambda: [o.close() for o in opened])
        time.sleep(1)
        before = s.cpu()
        time.sleep(seconds)
        some = s.cpu() - before
        print(f"idle: server CPU over {seconds:g} s: {none:.3f} s with no stream, {some:.3f} s with {streams} open "
              f"({100 * some / seconds:.2f} % of a core); resident {s.memory() / 2**20:.0f} MiB")  # fmt: skip


def restart(saves: int) -> None:
    with ExitStack() as stack:
        url = database(stack, "sqlite")
        a, b = server(stack, url), server(stack, url)
        code = open_class(a.url)
        board = Stream(f"{a.url}/classes/{code}/events", TEACHER, reconnect=True)
        stack.callback(board.close)
        rng = np.random.default_rng(1)
        ids = []
        for i in range(saves):
            if i == saves // 3:
                a.proc.kill()
                a.proc.wait()
            if i == 2 * saves // 3:  # the same port: the board's reconnection finds it
                attacks.free_port = lambda: a.port  # type: ignore[assignment]
                again = Server(**SETTINGS, CNN_DATABASE_URL=url)
                stack.callback(again.stop)
            r = httpx.post(f"{b.url}/drawings", json={"image": grid(rng), "label": i % 10, "class": code})
            ids.append(r.json()["id"])
            time.sleep(0.1)
        wait_for(board, set(ids), 20)
        heard = set(board.ids())
        print(f"restart: {saves} saves on a second server while the board's server was killed and started again: "
              f"{len(set(ids) & heard)} on the board, missed {len(set(ids) - heard)}")  # fmt: skip


def outage(saves: int) -> None:
    from bench.postgres import _as_owner, bin_dir, fresh_database, throwaway_cluster

    with ExitStack() as stack:
        cluster = stack.enter_context(throwaway_cluster())
        url = fresh_database(cluster)
        with httpx.Client():
            import psycopg

            with psycopg.connect(cluster) as conn:
                data = conn.execute("SHOW data_directory").fetchone()[0]
        port, home = cluster.rsplit(":", 1)[1].split("/")[0], str(Path(data).parent)
        pg_ctl = f"{bin_dir()}/pg_ctl"
        s = server(stack, url)
        code = open_class(s.url)
        board = Stream(f"{s.url}/classes/{code}/events", TEACHER, reconnect=True)
        stack.callback(board.close)
        rng = np.random.default_rng(2)
        ids, refusals = [], []
        subprocess.run(_as_owner([pg_ctl, "-D", data, "-m", "fast", "-w", "stop"]), check=True, capture_output=True)
        for _ in range(saves):
            r = httpx.post(f"{s.url}/drawings", json={"image": grid(rng), "label": 1, "class": code}, timeout=60)
            refusals.append((r.status_code, r.json().get("detail", "")))
        options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1"
        start = [pg_ctl, "-D", data, "-o", options, "-l", f"{home}/log", "-w", "start"]
        subprocess.run(_as_owner(start), check=True, capture_output=True)
        started = time.monotonic()
        while True:
            r = httpx.post(f"{s.url}/drawings", json={"image": grid(rng), "label": 2, "class": code}, timeout=60)
            if r.status_code == 201:
                ids.append(r.json()["id"])
                break
            time.sleep(0.2)
        resumed = time.monotonic() - started
        for _ in range(saves - 1):
            body = {"image": grid(rng), "label": 3, "class": code}
            ids.append(httpx.post(f"{s.url}/drawings", json=body).json()["id"])
        wait_for(board, set(ids), 20)
        print(f"outage: PostgreSQL stopped: {saves} saves answered {sorted({c for c, _ in refusals})} "
              f"({refusals[0][1]!r}); started again: saves resumed after {resumed:.1f} s; "
              f"{len(set(ids) & set(board.ids()))} of {len(ids)} later saves on the board")  # fmt: skip


def hostile() -> None:
    from app.classes import codes, events

    with ExitStack() as stack:
        s = server(stack, database(stack, "sqlite"))
        code = open_class(s.url)
        flood, started = [], time.monotonic()
        while len(flood) < events.STREAMS_PER_ADDRESS + 20:
            flood.append(Stream(f"{s.url}/classes/{code}/events"))
        stack.callback(lambda: [f.close() for f in flood])
        admitted = sum(f.status == 200 for f in flood)
        refused = sorted({f.status for f in flood if f.status != 200})
        health = httpx.get(f"{s.url}/healthz").status_code
        print(f"hostile: {len(flood)} streams from one address in {time.monotonic() - started:.1f} s: {admitted} "
              f"admitted, the rest {refused}; /healthz {health}")  # fmt: skip
        for f in flood:
            f.close()
        time.sleep(1)
        forged = {}
        for value in ("x", "1-2-3", "9" * 40, "-1-0", "99999999999999999999-1", "1" * 4000):
            r = httpx.get(f"{s.url}/classes/{code}/events", headers={"Last-Event-ID": value})
            forged[f"{value[:8]}…({len(value)})"] = r.status_code
        print(f"hostile: forged Last-Event-IDs -> {forged}")
        statuses, started = [], time.monotonic()
        with httpx.Client() as c:
            for i in range(200):
                guess = "".join(codes.ALPHABET[int(d) % len(codes.ALPHABET)] for d in f"{i:05d}")
                statuses.append(c.get(f"{s.url}/classes/{guess}").status_code)
        took = time.monotonic() - started
        print(f"hostile: 200 unknown codes in {took:.2f} s: {statuses.count(404)} answered 404, "
              f"{statuses.count(429)} 429; at most {codes.GUESSES_PER_MINUTE} a minute from one address "
              f"of {len(codes.ALPHABET) ** codes.LENGTH:,} codes")  # fmt: skip
        phone = Stream(f"{s.url}/classes/{code}/events")
        rng = np.random.default_rng(3)
        for i in range(10):
            httpx.post(f"{s.url}/drawings", json={"image": grid(rng), "label": i, "class": code})
        time.sleep(1)
        kinds = sorted({kind for _, kind, _ in phone.got})
        print(f"hostile: a phone's stream while the class saved 10 drawings heard {kinds}")
        phone.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=["lesson", "idle", "restart", "outage", "hostile"])
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--phones", type=int, default=200)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--saves", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if args.scenario == "lesson":
        lesson(args.store, args.phones)
    elif args.scenario == "idle":
        idle(args.streams, args.seconds)
    elif args.scenario == "restart":
        restart(args.saves)
    elif args.scenario == "outage":
        outage(args.saves)
    else:
        hostile()


if __name__ == "__main__":
    main()
