"""Lessons with a class through the API, on a SQLite file and on a real PostgreSQL server: classes,
saving into them, pausing, the class filter, migrations that keep rows, join addresses and the QR code."""

from __future__ import annotations

import asyncio
import io
import re
import sqlite3
import threading
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

import model
from app.classes import codes
from app.classes.join import is_loopback, join_urls, machine_addresses
from app.classes.store import Classes
from app.drawings.database import Database
from app.drawings.migrations import LATEST, MIGRATIONS
from app.drawings.store import Drawing, Store
from model.codec import encode_params
from tests.conftest import WEIGHTS
from tests.test_drawings import TEACHER, client_for, database_url, drawing  # noqa: F401 -- the fixture

PAUSED = "Saving is paused by your teacher"


@pytest.fixture
def client(database_url) -> Iterator[TestClient]:  # noqa: F811
    with client_for(database_url) as c:
        yield c


def open_class(client: TestClient, name: str = "7B, Tuesday") -> dict:
    r = client.post("/classes", json={"name": name}, headers=TEACHER)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_class_opens_with_a_short_code_without_look_alikes_and_is_listed_with_its_counts(client, rng):
    made = open_class(client)
    assert set(made) == {"code", "name", "state", "join_url", "join_urls", "created_at", "drawings", "network"}
    assert made["name"] == "7B, Tuesday" and made["state"] == "open" and made["network"] is None
    assert re.fullmatch(f"[{codes.ALPHABET}]{{4,6}}", made["code"])
    assert not set(codes.ALPHABET) & set("0O1IL2Z5S8BUV")
    other = open_class(client, "8A")
    assert other["code"] != made["code"]
    for label in (3, 4):
        saved = client.post("/drawings", json={"image": drawing(rng), "label": label, "class": made["code"]})
        assert saved.status_code == 201
    assert client.post("/drawings", json={"image": drawing(rng), "label": 1}).status_code == 201  # no class
    listed = {c["code"]: c for c in client.get("/classes", headers=TEACHER).json()["classes"]}
    assert listed[made["code"]]["drawings"] == 2 and listed[other["code"]]["drawings"] == 0


def test_the_teachers_class_endpoints_want_the_token_and_the_public_one_never_shows_drawings(client, rng):
    made = open_class(client)
    assert client.post("/classes", json={"name": "x"}).status_code == 401
    assert client.get("/classes").status_code == 401
    assert client.patch(f"/classes/{made['code']}", json={"state": "paused"}).status_code == 401
    assert client.delete(f"/classes/{made['code']}").status_code == 401
    client.post("/drawings", json={"image": drawing(rng), "label": 3, "class": made["code"]})
    public = client.get(f"/classes/{made['code']}").json()
    assert public == {"code": made["code"], "name": "7B, Tuesday", "state": "open", "network": None}
    assert client.get(f"/classes/{made['code'].lower()}").status_code == 200  # typed in lower case
    r = client.get("/classes/QQQQQ")
    assert r.status_code == 404 and "no class" in r.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": 7}, {"name": "x" * 81}, {"name": "a", "extra": 1}],
)
def test_a_bad_class_body_gets_a_sentence(client, body):
    r = client.post("/classes", json=body, headers=TEACHER)
    assert r.status_code == 422 and isinstance(r.json()["detail"], str) and r.json()["detail"]


def test_a_paused_or_closed_class_refuses_saves_with_a_sentence_and_stores_nothing(client, rng):
    code = open_class(client)["code"]
    for state in ("paused", "closed"):
        r = client.patch(f"/classes/{code}", json={"state": state}, headers=TEACHER)
        assert r.status_code == 200 and r.json()["state"] == state
        refused = client.post("/drawings", json={"image": drawing(rng), "label": 2, "class": code})
        assert refused.status_code == 409
        assert (PAUSED if state == "paused" else "closed") in refused.json()["detail"]
    assert client.get("/drawings/summary", headers=TEACHER).json()["total"] == 0
    assert client.patch(f"/classes/{code}", json={"state": "open"}, headers=TEACHER).json()["state"] == "open"
    assert client.post("/drawings", json={"image": drawing(rng), "label": 2, "class": code}).status_code == 201
    renamed = client.patch(f"/classes/{code}", json={"name": "7B, Wednesday"}, headers=TEACHER)
    assert renamed.json()["name"] == "7B, Wednesday"
    assert client.patch(f"/classes/{code}", json={"state": "asleep"}, headers=TEACHER).status_code == 422
    assert client.patch(f"/classes/{code}", json={}, headers=TEACHER).status_code == 422
    unknown = client.post("/drawings", json={"image": drawing(rng), "label": 2, "class": "QQQQQ"})
    assert unknown.status_code == 404 and "no class" in unknown.json()["detail"]


def test_list_summary_export_and_tune_take_a_class(client, rng):
    a, b = open_class(client, "A")["code"], open_class(client, "B")["code"]
    for label, code in [(1, a), (2, a), (3, a), (4, b), (5, None)]:
        body = {"image": drawing(rng), "label": label} | ({"class": code} if code else {})
        assert client.post("/drawings", json=body).status_code == 201
    items = client.get("/drawings", params={"class": a}, headers=TEACHER).json()["items"]
    assert sorted(i["label"] for i in items) == [1, 2, 3]
    assert client.get("/drawings/summary", params={"class": b}, headers=TEACHER).json()["counts"][4] == 1
    assert client.get("/drawings/summary", headers=TEACHER).json()["total"] == 5
    export = np.load(io.BytesIO(client.get("/drawings/export", params={"class": a}, headers=TEACHER).content))
    assert export["labels"].tolist() == [1, 2, 3]
    idx_file = client.get("/drawings/export", params={"class": b, "format": "idx"}, headers=TEACHER).content
    idx = zipfile.ZipFile(io.BytesIO(idx_file))
    assert idx.read("drawings-labels-idx1-ubyte")[8:] == bytes([4])
    tuned = client.post("/drawings/tune", json={"steps": 1, "class": b}, headers=TEACHER)
    assert tuned.status_code == 422 and "there are 1" in tuned.json()["detail"]


@pytest.mark.parametrize("then", ["paused", "closed", "deleted"])
def test_a_save_checked_just_before_the_teacher_pauses_is_refused_not_stored(client, rng, monkeypatch, then):
    """The race: a save passes the class's check (open), then the teacher pauses, closes or deletes
    the class before the save reaches the database. The store checks again in the transaction that
    would store it: 409 with the sentence, nothing stored, and the next save into an open class works."""
    code = open_class(client)["code"]
    hooks = client.app.state.class_hooks
    admit = hooks.admit_save

    async def admit_then_teacher_acts(request, text):
        admitted = await admit(request, text)
        classes = request.app.state.classes.classes
        act = (lambda: classes.delete(code)) if then == "deleted" else (lambda: classes.update(code, then, None))
        await asyncio.to_thread(act)
        return admitted

    monkeypatch.setattr(hooks, "admit_save", admit_then_teacher_acts)
    refused = client.post("/drawings", json={"image": drawing(rng), "label": 2, "class": code})
    assert refused.status_code == 409, refused.text
    assert {"paused": PAUSED, "closed": "closed", "deleted": "deleted"}[then] in refused.json()["detail"]
    assert client.get("/drawings/summary", headers=TEACHER).json()["total"] == 0
    monkeypatch.undo()
    other = open_class(client, "8A")["code"]
    assert client.post("/drawings", json={"image": drawing(rng), "label": 2, "class": other}).status_code == 201
    assert client.post("/drawings", json={"image": drawing(rng), "label": 2}).status_code == 201  # no class


def test_a_class_deleted_while_its_saves_are_being_stored_takes_them_with_it(database_url, tmp_path, monkeypatch):  # noqa: F811
    """The writer has checked the class (open) and its transaction is storing a save when the teacher
    deletes the class. PostgreSQL: the delete waits for the save's commit (the class's row, locked
    FOR UPDATE against the writer's FOR SHARE) and then deletes it with the class; before, it deleted
    the drawings it could see, then the class, and the save outlived its class (answered 201)."""
    db = Database.of(database_url, tmp_path)
    store = Store(db, 1_000)
    store.open()
    try:
        classes = Classes(Database.of(database_url, tmp_path))
        code = classes.create("7B").code
        check, teacher = Store._not_open, {}

        def check_then_teacher_deletes(self, conn, group):
            found = check(self, conn, group)
            teacher["thread"] = threading.Thread(target=lambda: teacher.setdefault("gone", classes.delete(code)))
            teacher["thread"].start()
            waiting_on_a_lock(db)  # the teacher's transaction has begun and waits for this one
            return found

        monkeypatch.setattr(Store, "_not_open", check_then_teacher_deletes)
        grid = np.zeros(784, "<f4").tobytes()
        done: dict[str, Any] = {}
        # on a thread of its own: a loop of its own (a browser test may leave one running on this one)
        phone = threading.Thread(
            target=lambda: done.setdefault(
                "saved", asyncio.run(store.add(Drawing(grid, 3, 3, 0.9, "0" * 64, class_code=code), "key-1"))
            )
        )
        phone.start()
        phone.join(30)
        teacher["thread"].join(30)
        saved = done["saved"]
        assert saved.id >= 1 and teacher["gone"] == 1  # stored first, then deleted with its class
        conn = db.connect()
        try:
            left = conn.execute(db.sql("SELECT count(*) FROM drawings WHERE class = ?"), (code,)).fetchone()[0]
        finally:
            conn.close()
        assert left == 0 and classes.state(code) is None
    finally:
        store.close()


def waiting_on_a_lock(db: Database, seconds: float = 10.0) -> None:
    """Until another PostgreSQL session waits on a lock (at most `seconds`). SQLite's writers take the
    whole database in turn: there, a moment for the other thread to reach its BEGIN IMMEDIATE."""
    if db.dialect == "sqlite":
        time.sleep(0.3)
        return
    conn = db.connect()
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").fetchone()[0]:
                return
            time.sleep(0.01)
    finally:
        conn.close()


def test_deleting_a_class_removes_it_and_its_drawings_only(client, rng):
    code = open_class(client)["code"]
    client.post("/drawings", json={"image": drawing(rng), "label": 3, "class": code})
    client.post("/drawings", json={"image": drawing(rng), "label": 4})
    assert client.delete(f"/classes/{code}", headers=TEACHER).status_code == 204
    assert client.get(f"/classes/{code}").status_code == 404
    assert client.get("/drawings/summary", headers=TEACHER).json()["total"] == 1
    assert client.delete(f"/classes/{code}", headers=TEACHER).status_code == 404


def test_the_class_network_is_published_read_and_taken_back(client):
    code = open_class(client)["code"]
    text = encode_params(model.load(WEIGHTS).params)  # a network: the served one's own parameters
    assert client.get(f"/classes/{code}/network").status_code == 404
    fitted = {"temperature": 1.4, "unsure_below": 0.62}
    body = {"params": text, "drawings": 74, "calibration": fitted}
    r = client.put(f"/classes/{code}/network", json=body, headers=TEACHER)
    assert r.status_code == 200 and r.json()["drawings"] == 74
    got = client.get(f"/classes/{code}/network").json()
    assert got["params"] == text and got["drawings"] == 74 and len(got["sha256"]) == 64
    assert got["calibration"] == fitted
    hot = {"params": text, "drawings": 1, "calibration": {"temperature": 0, "unsure_below": 0.5}}
    assert client.put(f"/classes/{code}/network", json=hot, headers=TEACHER).status_code == 422
    assert client.get(f"/classes/{code}").json()["network"]["drawings"] == 74
    bad = client.put(f"/classes/{code}/network", json={"params": "AAAA", "drawings": 1}, headers=TEACHER)
    assert bad.status_code == 422 and "params" in bad.json()["detail"]
    assert client.put(f"/classes/{code}/network", json={"params": text, "drawings": 1}).status_code == 401
    assert client.delete(f"/classes/{code}/network", headers=TEACHER).status_code == 204
    assert client.get(f"/classes/{code}").json()["network"] is None


def test_unknown_codes_are_guessed_at_a_bounded_rate(client):
    guesses = ["".join(codes.ALPHABET[int(c)] for c in f"{i:05d}") for i in range(codes.GUESSES_PER_MINUTE + 3)]
    statuses = [client.get(f"/classes/{guess}").status_code for guess in guesses]
    assert statuses[: codes.GUESSES_PER_MINUTE] == [404] * codes.GUESSES_PER_MINUTE
    assert statuses[-1] == 429


def test_the_join_address_is_the_public_url_or_the_browsers_unless_loopback():
    assert join_urls("ABCDE", "https://digits.school.example/", "http", "127.0.0.1:8000") == [
        "https://digits.school.example/c/ABCDE"
    ]
    assert join_urls("ABCDE", "", "http", "192.168.1.20:8000") == ["http://192.168.1.20:8000/c/ABCDE"]
    local = join_urls("ABCDE", "", "http", "localhost:8000")
    assert all(not is_loopback(u.split("//")[1].split(":")[0]) for u in local) or not machine_addresses()
    assert all(u.endswith(":8000/c/ABCDE") for u in local)
    assert is_loopback("127.0.0.1") and is_loopback("[::1]") and is_loopback("localhost")
    assert not is_loopback("10.0.0.2")


def raster(svg: bytes) -> np.ndarray:
    """segno's SVG (horizontal strokes: M x y, then h/m moves) drawn as a uint8 image, 8 pixels a module."""
    size = int(re.search(rb'width="(\d+)"', svg)[1]) // 10  # type: ignore[index]
    path = re.search(rb'class="qrline" stroke="#000" d="([^"]+)"', svg)[1].decode()  # type: ignore[index]
    image = np.full((size * 8, size * 8), 255, np.uint8)
    x = y = 0.0
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if op in "Mm":
            x, y = (float(a), float(b)) if op == "M" else (x + float(a), y + float(b))
        else:
            row = int(y - 0.5)
            image[row * 8 : row * 8 + 8, int(x) * 8 : int(x + float(a)) * 8] = 0
            x += float(a)
    return image


def test_the_qr_code_decodes_to_the_join_url(database_url):  # noqa: F811
    zxingcpp = pytest.importorskip("zxingcpp")
    with client_for(database_url, public_url="https://digits.school.example") as client:
        made = open_class(client)
        r = client.get(f"/classes/{made['code']}/qr.svg")
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
        found = zxingcpp.read_barcodes(raster(r.content))
        assert [f.text for f in found] == [made["join_url"]] == [f"https://digits.school.example/c/{made['code']}"]
        assert client.get("/classes/QQQQQ/qr.svg").status_code == 404


def test_the_phones_page_is_served_at_c_code(client):
    code = open_class(client)["code"]
    r = client.get(f"/c/{code}")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    unknown = client.get("/c/QQQQQ")
    assert unknown.status_code == 404 and "text/html" in unknown.headers["content-type"]  # the page says so


def version_2_database(db: Database) -> None:
    """A database as the service before classes left it (schema version 2), with a drawing in it."""
    conn = db.connect()
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version in (1, 2):
        for statement in MIGRATIONS[version][db.dialect]:
            conn.execute(statement)
        conn.execute(db.sql("INSERT INTO schema_version (version) VALUES (?)"), (version,))
    grid = np.zeros(784, "<f4").tobytes()
    conn.execute(
        db.sql(
            "INSERT INTO drawings (created_at, label, answer, probability, weights_sha256, grid)"
            " VALUES (?, ?, ?, ?, ?, ?)"
        ),
        ("2026-01-01T00:00:00.000Z", 7, 1, 0.5, "f" * 64, grid),
    )
    if db.dialect == "sqlite":
        conn.commit()
    conn.close()


def test_a_database_from_before_classes_migrates_and_keeps_its_drawings(database_url, tmp_path, rng):  # noqa: F811
    db = Database.of(database_url, tmp_path)
    version_2_database(db)
    with client_for(database_url) as client:
        items = client.get("/drawings", headers=TEACHER).json()["items"]
        assert [(i["label"], i["answer"]) for i in items] == [(7, 1)]
        code = open_class(client)["code"]
        client.post("/drawings", json={"image": drawing(rng), "label": 2, "class": code})
        items = client.get("/drawings", params={"class": code}, headers=TEACHER).json()["items"]
        assert [i["label"] for i in items] == [2]
        assert client.get("/drawings/summary", headers=TEACHER).json()["total"] == 2
    assert Database.of(database_url, tmp_path).migrate() == LATEST == 4
    if db.dialect == "sqlite":
        with sqlite3.connect(db.target) as conn:
            assert conn.execute("SELECT count(*) FROM drawings WHERE class IS NULL").fetchone()[0] == 1


def test_python_m_app_says_where_phones_join_when_it_listens_beyond_loopback():
    from app.__main__ import join_lines
    from app.config import Settings

    token = "a-teacher-token-0123456789"
    (line,) = join_lines(Settings(host="0.0.0.0", port=8123, teacher_token=token, public_url="https://d.example"))
    assert line.endswith("phones join at https://d.example/c/<the class's code>")
    assert all(":8123/c/" in x and "0.0.0.0" not in x for x in join_lines(Settings(host="0.0.0.0", port=8123)))
    assert "--host 0.0.0.0" in join_lines(Settings(host="127.0.0.1", teacher_token=token))[0]
