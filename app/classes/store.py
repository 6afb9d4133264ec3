"""The classes and what happens in them, in the drawings' own database (app/drawings/database.py):
the `classes` table (its code, name, state and published network) and `class_events` (state changes,
networks published or taken back, drawings deleted), both made by migrations.py's migration 3.

A save is not written here: the drawings table, with its `class` column, is the log of saves, and
the live board (events.py) reads both by id. Every method blocks: the routes call them in threads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from app.drawings.database import Database
from app.drawings.store import now
from app.transport.errors import Failure

from .codes import new_code

State = Literal["open", "paused", "closed"]
MAX_CLASSES = 500  # classes kept at once: GET /classes lists them all, so its cost is bounded
MAX_NAME = 80
EVENT_KINDS = ("state", "network", "deletion")
COLUMNS = "code, name, state, created_at, network_sha256, network_drawings, published_at"


class TooManyClasses(Failure):
    """MAX_CLASSES classes exist: the teacher deletes old ones first."""

    status = 409


@dataclass(frozen=True, slots=True)
class ClassRow:
    code: str
    name: str
    state: State
    created_at: str
    network_sha256: str | None = None
    network_drawings: int | None = None
    published_at: str | None = None
    drawings: int = 0  # counted only where asked (GET /classes)

    def network(self) -> dict[str, Any] | None:
        """What a phone learns of the class's network without its parameters; None before one is published."""
        if self.network_sha256 is None:
            return None
        return {"sha256": self.network_sha256, "drawings": self.network_drawings, "published_at": self.published_at}


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    code: str
    kind: str
    data: dict[str, Any]


def row_of(row: Any, drawings: int = 0) -> ClassRow:
    code, name, state, created_at, sha, n, published_at = row
    return ClassRow(code, name, state, created_at, sha, None if n is None else int(n), published_at, drawings)


class Classes:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _one(self, conn: Any, code: str, *, lock: bool = False) -> ClassRow | None:
        """The class's row; with lock, held until the transaction ends (PostgreSQL's FOR UPDATE: SQLite's
        writer holds the whole database already)."""
        locked = " FOR UPDATE" if lock and self.db.dialect == "postgresql" else ""
        row = conn.execute(self.db.sql(f"SELECT {COLUMNS} FROM classes WHERE code = ?{locked}"), (code,)).fetchone()
        return None if row is None else row_of(row)

    def _event(self, conn: Any, code: str, kind: str, data: dict[str, Any]) -> None:
        statement = "INSERT INTO class_events (class, kind, data) VALUES (?, ?, ?)"
        conn.execute(self.db.sql(statement), (code, kind, json.dumps(data)))

    def create(self, name: str) -> ClassRow:
        with self.db.transaction(write=True) as conn:
            if int(conn.execute("SELECT count(*) FROM classes").fetchone()[0]) >= MAX_CLASSES:
                raise TooManyClasses(f"there are {MAX_CLASSES} classes already; delete an old one first")
            taken = {r[0] for r in conn.execute("SELECT code FROM classes")}
            code = new_code()
            while code in taken:  # a few hundred of 6.4 million: a second draw at most, almost always
                code = new_code()
            row = ClassRow(code, name, "open", now())
            statement = "INSERT INTO classes (code, name, state, created_at) VALUES (?, ?, ?, ?)"
            conn.execute(self.db.sql(statement), (row.code, row.name, row.state, row.created_at))
            return row

    def all(self) -> list[ClassRow]:
        """Every class, newest first, with its drawings counted (one grouped query over the class index)."""
        with self.db.transaction(write=False) as conn:
            counts = dict(conn.execute("SELECT class, count(*) FROM drawings WHERE class IS NOT NULL GROUP BY class"))
            rows = conn.execute(f"SELECT {COLUMNS} FROM classes ORDER BY created_at DESC, code").fetchall()
        return [row_of(r, int(counts.get(r[0], 0))) for r in rows]

    def get(self, code: str) -> ClassRow | None:
        with self.db.transaction(write=False) as conn:
            return self._one(conn, code)

    def state(self, code: str) -> State | None:
        with self.db.transaction(write=False) as conn:
            row = conn.execute(self.db.sql("SELECT state FROM classes WHERE code = ?"), (code,)).fetchone()
        return None if row is None else row[0]

    def update(self, code: str, state: State | None, name: str | None) -> ClassRow | None:
        """A new state (an event for the phones and the board) and/or a new name; None if no such class."""
        with self.db.transaction(write=True) as conn:
            before = self._one(conn, code)
            if before is None:
                return None
            if name is not None:
                conn.execute(self.db.sql("UPDATE classes SET name = ? WHERE code = ?"), (name, code))
            if state is not None and state != before.state:
                conn.execute(self.db.sql("UPDATE classes SET state = ? WHERE code = ?"), (state, code))
            if (state is not None and state != before.state) or (name is not None and name != before.name):
                after = self._one(conn, code)
                assert after is not None
                self._event(conn, code, "state", {"state": after.state, "name": after.name})
                return after
            return before

    def delete(self, code: str) -> int | None:
        """Remove the class and its drawings: how many drawings went, or None if no such class.
        Its streams hear a last `state` event, "deleted"."""
        with self.db.transaction(write=True) as conn:
            # The class's row first, locked: saves that the drawings' writer admitted into it (their
            # transaction holds the row FOR SHARE, app/drawings/store.py) commit before the class's
            # drawings are deleted, so that none outlives its class, and later ones find it gone.
            if self._one(conn, code, lock=True) is None:
                return None
            gone = conn.execute(self.db.sql("DELETE FROM drawings WHERE class = ?"), (code,)).rowcount
            conn.execute(self.db.sql("DELETE FROM classes WHERE code = ?"), (code,))
            conn.execute(self.db.sql("DELETE FROM class_events WHERE class = ?"), (code,))
            self._event(conn, code, "state", {"state": "deleted", "name": ""})
            return int(gone)

    def publish(self, code: str, params: str, drawings: int, calibration: dict[str, float] | None) -> ClassRow | None:
        sha = hashlib.sha256(params.encode()).hexdigest()
        fitted = None if calibration is None else json.dumps(calibration)
        with self.db.transaction(write=True) as conn:
            statement = (
                "UPDATE classes SET network = ?, network_sha256 = ?, network_drawings = ?, network_calibration = ?,"
                " published_at = ? WHERE code = ?"
            )
            if conn.execute(self.db.sql(statement), (params, sha, drawings, fitted, now(), code)).rowcount == 0:
                return None
            after = self._one(conn, code)
            assert after is not None
            self._event(conn, code, "network", after.network() or {})
            return after

    def network(self, code: str) -> tuple[ClassRow, str | None, dict[str, float] | None] | None:
        """The class, its published parameters and their calibration (None if none); None if no such class."""
        with self.db.transaction(write=False) as conn:
            row = self._one(conn, code)
            if row is None:
                return None
            statement = self.db.sql("SELECT network, network_calibration FROM classes WHERE code = ?")
            params, fitted = conn.execute(statement, (code,)).fetchone()
        return row, params, None if fitted is None else json.loads(fitted)

    def take_back(self, code: str) -> bool | None:
        """Withdraw the class's network: True if there was one, False if not, None if no such class."""
        with self.db.transaction(write=True) as conn:
            row = self._one(conn, code)
            if row is None:
                return None
            if row.network_sha256 is None:
                return False
            statement = (
                "UPDATE classes SET network = NULL, network_sha256 = NULL, network_drawings = NULL,"
                " network_calibration = NULL, published_at = NULL WHERE code = ?"
            )
            conn.execute(self.db.sql(statement), (code,))
            self._event(conn, code, "network", {"sha256": None, "drawings": None, "published_at": None})
            return True

    def deleted(self, drawing_id: int, code: str) -> None:
        """A drawing of the class was deleted (DELETE /drawings/{id}): the board hears of it."""
        with self.db.transaction(write=True) as conn:
            self._event(conn, code, "deletion", {"id": drawing_id})

    def class_of(self, drawing_id: int) -> str | None:
        with self.db.transaction(write=False) as conn:
            row = conn.execute(self.db.sql("SELECT class FROM drawings WHERE id = ?"), (drawing_id,)).fetchone()
        return None if row is None else row[0]
