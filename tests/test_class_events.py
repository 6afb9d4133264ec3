"""The live board through real servers: Server-Sent Events from `python -m app` with two worker
processes on one SQLite file, and from two replicas on one PostgreSQL server; reconnection with
Last-Event-ID; what a phone without the token may hear; the streams' bounds."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import queue
import subprocess
import threading
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from app.classes import events
from app.drawings.database import Database
from bench.postgres import fresh_database
from bench.servers import free_port, start_app, wait_until_healthy
from tests.test_drawings import TEACHER, TOKEN, drawing

WAIT = 20.0  # seconds an expected event may take at most here (a loaded CI machine); speed is bench/'s


class Board:
    """A stream read in a thread: its events, in order, on a queue."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.events: queue.Queue[dict] = queue.Queue()
        self.status: queue.Queue[int] = queue.Queue()
        self.last: str | None = None
        self.client = httpx.Client(timeout=httpx.Timeout(5, read=None))
        self.thread = threading.Thread(target=self._read, args=(url, headers or {}), daemon=True)
        self.thread.start()
        assert self.status.get(timeout=WAIT) == 200

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self.client.stream("GET", url, headers=headers) as r:
                self.status.put(r.status_code)
                assert r.headers["content-type"].startswith("text/event-stream")
                frame: dict[str, str] = {}
                for line in r.iter_lines():
                    if line == "":
                        if "event" in frame:
                            self.last = frame.get("id", self.last)
                            data = json.loads(frame["data"])
                            self.events.put({"kind": frame["event"], "id": frame.get("id"), **data})
                        frame = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(":")
                        frame[name] = value.removeprefix(" ")
        except (httpx.HTTPError, RuntimeError):
            pass

    def next(self, kind: str | None = None) -> dict:
        while True:
            event = self.events.get(timeout=WAIT)
            if kind is None or event["kind"] == kind:
                return event

    def quiet(self) -> list[dict]:
        """What arrived so far, without waiting."""
        got = []
        while not self.events.empty():
            got.append(self.events.get_nowait())
        return got

    def close(self) -> None:
        self.client.close()


def serve(database_url: str, workers: int = 1) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = os.environ | {"CNN_TEACHER_TOKEN": TOKEN, "CNN_DATABASE_URL": database_url, "CNN_POOL_WORKERS": "1"}
    process = start_app(port, "--workers", str(workers), env=env)
    wait_until_healthy(port, process)
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture
def sqlite_server(tmp_path) -> Iterator[str]:
    process, url = serve(f"sqlite:///{tmp_path / 'drawings.db'}", workers=2)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def open_class(url: str) -> str:
    r = httpx.post(f"{url}/classes", json={"name": "7B"}, headers=TEACHER)
    assert r.status_code == 201, r.text
    return r.json()["code"]


def save(url: str, code: str, label: int, rng: np.random.Generator) -> dict:
    r = httpx.post(f"{url}/drawings", json={"image": drawing(rng), "label": label, "class": code})
    assert r.status_code == 201, r.text
    return r.json()


def test_the_board_hears_every_save_the_phones_only_state_and_network(sqlite_server, rng):
    url = sqlite_server
    code = open_class(url)
    board = Board(f"{url}/classes/{code}/events", TEACHER)
    phone = Board(f"{url}/classes/{code}/events")
    assert board.next()["kind"] == "hello" and phone.next()["kind"] == "hello"
    saved = [save(url, code, label, rng) for label in (3, 1, 4)]  # new connections: either worker process
    heard = [board.next("drawing") for _ in saved]
    assert [(h["id"], h["label"], h["answer"]) for h in heard] == [(s["id"], s["label"], s["answer"]) for s in saved]
    assert all(len(__import__("base64").b64decode(h["pixels"])) == 784 for h in heard)
    assert httpx.patch(f"{url}/classes/{code}", json={"state": "paused"}, headers=TEACHER).status_code == 200
    assert board.next("state")["state"] == "paused"
    said = phone.next()
    assert said["kind"] == "state" and said["state"] == "paused"  # the phone heard no drawing before it
    refused = httpx.post(f"{url}/drawings", json={"image": drawing(rng), "label": 2, "class": code})
    assert refused.status_code == 409 and "paused by your teacher" in refused.json()["detail"]
    params = httpx.post(f"{url}/teach", json={"image": drawing(rng), "label": 3}).json()["params"]
    put = httpx.put(f"{url}/classes/{code}/network", json={"params": params, "drawings": 3}, headers=TEACHER)
    assert put.status_code == 200
    assert phone.next()["kind"] == "network" and board.next("network")["drawings"] == 3
    drawing_id = saved[0]["id"]
    assert httpx.delete(f"{url}/drawings/{drawing_id}", headers=TEACHER).status_code == 204
    assert board.next("deletion")["id"] == drawing_id
    assert [e["kind"] for e in phone.quiet()] == []  # never a drawing nor a deletion
    board.close()
    phone.close()


def test_a_board_reconnecting_with_last_event_id_misses_nothing(sqlite_server, rng):
    url = sqlite_server
    code = open_class(url)
    board = Board(f"{url}/classes/{code}/events", TEACHER)
    board.next("hello")
    first = save(url, code, 5, rng)
    assert board.next("drawing")["id"] == first["id"]
    last = board.last
    board.close()
    missed = [save(url, code, d, rng)["id"] for d in (6, 7)]
    httpx.patch(f"{url}/classes/{code}", json={"state": "paused"}, headers=TEACHER)
    again = Board(f"{url}/classes/{code}/events", TEACHER | {"Last-Event-ID": str(last)})
    assert again.next()["kind"] == "hello"
    assert [again.next("drawing")["id"] for _ in missed] == missed
    assert again.next("state")["state"] == "paused"
    again.close()
    for forged in ("x", "1-2-3", "9" * 40, "-1-0"):
        r = httpx.get(f"{url}/classes/{code}/events", headers=TEACHER | {"Last-Event-ID": forged})
        assert r.status_code == 422 and "Last-Event-ID" in r.json()["detail"]


def test_a_phone_without_the_token_reconnecting_hears_no_drawings(sqlite_server, rng):
    url = sqlite_server
    code = open_class(url)
    save(url, code, 1, rng)
    phone = Board(f"{url}/classes/{code}/events", {"Last-Event-ID": "0-0"})
    assert phone.next()["kind"] == "hello"
    httpx.patch(f"{url}/classes/{code}", json={"state": "closed"}, headers=TEACHER)
    assert phone.next()["kind"] == "state"
    assert phone.quiet() == []
    phone.close()


def test_a_save_by_another_server_process_on_the_same_sqlite_file_reaches_the_board(tmp_path, rng):
    database_url = f"sqlite:///{tmp_path / 'drawings.db'}"
    (a, url_a), (b, url_b) = serve(database_url), serve(database_url)
    try:
        code = open_class(url_a)
        board = Board(f"{url_a}/classes/{code}/events", TEACHER)
        board.next("hello")
        saved = [save(url_b, code, d, rng)["id"] for d in (0, 9)]  # the other process: only the file is shared
        assert [board.next("drawing")["id"] for _ in saved] == saved
        board.close()
    finally:
        for process in (a, b):
            process.terminate()
            process.wait(timeout=30)


def test_a_save_on_one_replica_reaches_a_board_on_another(postgres_server, rng):
    database_url = fresh_database(postgres_server)
    (a, url_a), (b, url_b) = serve(database_url), serve(database_url)
    try:
        code = open_class(url_a)
        board = Board(f"{url_b}/classes/{code}/events", TEACHER)
        board.next("hello")
        saved = [save(url_a, code, d, rng)["id"] for d in (2, 7)]
        assert [board.next("drawing")["id"] for _ in saved] == saved
        httpx.patch(f"{url_a}/classes/{code}", json={"state": "paused"}, headers=TEACHER)
        assert board.next("state")["state"] == "paused"
        board.close()
    finally:
        for process in (a, b):
            process.terminate()
            process.wait(timeout=30)


def test_streams_are_bounded_per_address_and_per_process(tmp_path, monkeypatch):
    monkeypatch.setattr(events, "STREAMS_PER_ADDRESS", 2)
    monkeypatch.setattr(events, "STREAMS_PER_PROCESS", 3)
    db = Database.of(f"sqlite:///{tmp_path / 'd.db'}", tmp_path)
    db.migrate()

    async def admit_all() -> list[str]:
        broker = events.Broker(db)
        outcomes = []
        for address in ("10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.3"):
            try:
                broker.admit("ABCDE", address, False, (0, 0))
                outcomes.append("admitted")
            except events.TooManyStreams as e:
                outcomes.append(str(e))
        broker.close()
        await asyncio.sleep(0)
        return outcomes

    # In a thread of its own: the browser tests' Playwright keeps an event loop running on this one.
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        outcomes = thread.submit(asyncio.run, admit_all()).result()
    assert outcomes[:2] == ["admitted", "admitted"] and "from this address" in outcomes[2]
    assert outcomes[3] == "admitted" and "this server has 3" in outcomes[4]
