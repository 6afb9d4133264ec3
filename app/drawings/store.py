"""The collection of drawings: saving (grouped commits on one writer thread) and the teacher's reads.

Every method here blocks, so none runs on the event loop: saves go to the writer thread and are
awaited through a future; the routes send the rest to threads (asyncio.to_thread).

Group commit: the writer takes every save waiting, writes them in one transaction and commits
once, then answers each. A save is answered only after its COMMIT has returned, so a 201 is on
the disk; many clients share each fsync, which is what makes a thousand saves a second possible
on one disk.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from app.transport.errors import ClientMistake

from .database import Database, DatabaseUnavailable, is_fault, unavailable

log = logging.getLogger("uvicorn.error")

GROUP_LIMIT = 512  # saves in one transaction at most
# Counting the rows for the cap reads the whole table: the writer trusts its own tally for up to
# RECOUNT_SECONDS, unless the collection is within COUNT_MARGIN of the cap (more than other replicas
# could add in that time), where it counts every time.
RECOUNT_SECONDS, COUNT_MARGIN = 2.0, 10_000
COLUMNS = "id, created_at, label, answer, probability, weights_sha256, grid"
INSERT = (
    "INSERT INTO drawings (created_at, label, answer, probability, weights_sha256, grid, idempotency_key, class)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
)


class CollectionFull(ClientMistake):
    """The collection holds CNN_MAX_DRAWINGS drawings: 409 until the teacher exports and deletes some."""

    status = 409


class ClassNotOpen(ClientMistake):
    """A save into a class that is not open (paused, closed or deleted): 409, nothing stored."""

    status = 409


NOT_OPEN = {
    "paused": "Saving is paused by your teacher; your drawing was not saved. Try again when they open it.",
    "closed": "This class is closed: your teacher has ended saving. Your drawing was not saved.",
    None: "This class was deleted by your teacher; your drawing was not saved.",
}


class KeyReused(ClientMistake):
    """An Idempotency-Key already used for a different drawing or label."""

    status = 422


@dataclass(frozen=True, slots=True)
class Drawing:
    """What one save stores, and nothing about the person who drew it."""

    grid: bytes  # (28, 28) float32, little-endian: exactly what the network read
    label: int  # the digit meant
    answer: int  # the served network's digit
    probability: float  # its probability for that digit
    weights_sha256: str  # which weights answered
    created_at: str = ""  # ISO 8601, UTC; set by the store when empty
    class_code: str | None = None  # the class it was saved into (app/classes/); None: no class

    def pixels(self) -> np.ndarray:
        """(28, 28) uint8, as MNIST stores its images (0 background, 255 ink)."""
        return to_uint8(np.frombuffer(self.grid, "<f4")).reshape(28, 28)


@dataclass(frozen=True, slots=True)
class Saved:
    id: int
    drawing: Drawing
    repeated: bool = False  # an earlier save with the same Idempotency-Key


def to_uint8(grid: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(grid, 0, 1) * 255).astype(np.uint8)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Pending:
    drawing: Drawing
    key: str | None
    future: asyncio.Future[Saved]
    loop: asyncio.AbstractEventLoop


class Store:
    def __init__(self, db: Database, max_drawings: int) -> None:
        self.db, self.max_drawings = db, max_drawings
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._conn: Any = None
        self._tally: tuple[int, float] | None = None  # (rows, when counted) as the writer last knew them

    # -- life -------------------------------------------------------------------------------
    def open(self) -> int:
        """Migrate, then start the writer; the schema version reached."""
        version = self.db.migrate()
        self._writer = threading.Thread(target=self._write_forever, name="drawings-writer", daemon=True)
        self._writer.start()
        return version

    def close(self) -> None:
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=10)
            self._writer = None
        self.db.close()

    # -- saving -----------------------------------------------------------------------------
    async def add(self, drawing: Drawing, key: str | None) -> Saved:
        """Store the drawing (once per key); returns when it is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Saved] = loop.create_future()
        self._queue.put(_Pending(drawing, key, future, loop))
        return await future

    def _write_forever(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                break
            group = [first]
            while len(group) < GROUP_LIMIT:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # finish this group, then stop
                    break
                group.append(more)
            for pending, result in zip(group, self._write_group(group), strict=True):
                pending.loop.call_soon_threadsafe(_settle, pending.future, result)
        if self._conn is not None:
            self._conn.close()

    def _write_group(self, group: list[_Pending]) -> list[Saved | BaseException]:
        try:
            # a connection that died since the last group (PostgreSQL restarted) is replaced, once
            self._conn = conn = self.db.start(self._conn, write=True)
            try:
                count = self._count(conn, len(group))
                not_open = self._not_open(conn, group)
                admitted = [pending for pending in group if pending.drawing.class_code not in not_open]
                results: list[Saved | BaseException] = []
                if self.db.dialect == "postgresql" and count + len(admitted) <= self.max_drawings:
                    results, count = self._insert_pipelined(conn, admitted, count)
                else:
                    for pending in admitted:
                        try:
                            saved, added = self._insert(conn, pending, count)
                            count += added
                            results.append(saved)
                        except (CollectionFull, KeyReused) as e:
                            results.append(e)
                conn.execute("COMMIT")
                self._tally = (count, self._tally[1] if self._tally else 0.0)
                answers = iter(results)
                return [
                    not_open[p.drawing.class_code] if p.drawing.class_code in not_open else next(answers) for p in group
                ]
            except BaseException:
                conn.execute("ROLLBACK")
                self._tally = None
                raise
        except Exception as e:  # noqa: BLE001 -- every waiting save hears of it
            log.error("saving drawings failed: %s", e)
            if self._conn is not None:
                self._conn.close()
                self._conn = None  # reconnect for the next group
            if isinstance(e, DatabaseUnavailable):
                refused = e
            elif is_fault(e):
                refused = unavailable(e)
            else:
                refused = DatabaseUnavailable("the drawings' database could not store this; try again")
            return [refused] * len(group)

    def _not_open(self, conn: Any, group: list[_Pending]) -> dict[str, ClassNotOpen]:
        """The classes of the group's saves that are not open now, inside the transaction that stores
        them: a save checked before the teacher paused its class is refused here, not stored. On
        PostgreSQL the open classes' rows are locked (FOR SHARE) until COMMIT, so a pause waits for
        the saves it did not stop; SQLite's writer holds the whole database already."""
        codes = sorted({p.drawing.class_code for p in group if p.drawing.class_code is not None})
        if not codes:
            return {}
        marks = ", ".join("?" * len(codes))
        lock = " FOR SHARE" if self.db.dialect == "postgresql" else ""
        rows = conn.execute(self.db.sql(f"SELECT code, state FROM classes WHERE code IN ({marks}){lock}"), codes)
        state = dict(rows.fetchall())
        return {code: ClassNotOpen(NOT_OPEN[state.get(code)]) for code in codes if state.get(code) != "open"}

    def _count(self, conn: Any, adding: int) -> int:
        now = time.monotonic()
        if self._tally is not None:
            rows, when = self._tally
            if now - when < RECOUNT_SECONDS and rows + adding < self.max_drawings - COUNT_MARGIN:
                return rows
        rows = int(conn.execute("SELECT count(*) FROM drawings").fetchone()[0])
        self._tally = (rows, now)
        return rows

    def _insert_pipelined(
        self, conn: Any, group: list[_Pending], count: int
    ) -> tuple[list[Saved | BaseException], int]:
        """PostgreSQL: the whole group's INSERTs sent at once (one round trip, not one per save); a key
        used before gets the earlier save. Only where the group cannot pass the cap."""
        cur = conn.cursor()
        cur.executemany(self.db.sql(INSERT), [self._row(p) for p in group], returning=True)
        results: list[Saved | BaseException] = []
        for pending in group:
            row = cur.fetchone()
            if row is not None:
                results.append(Saved(int(row[0]), pending.drawing))
                count += 1
            else:
                try:
                    results.append(self._same(self._earlier(conn, pending.key), pending.drawing))
                except KeyReused as e:
                    results.append(e)
            cur.nextset()
        return results, count

    @staticmethod
    def _row(p: _Pending) -> tuple[Any, ...]:
        d = p.drawing
        return (d.created_at or now(), d.label, d.answer, d.probability, d.weights_sha256, d.grid, p.key, d.class_code)

    def _earlier(self, conn: Any, key: str | None) -> Saved:
        earlier = None if key is None else self._by_key(conn, key)
        if earlier is None:  # a NULL key never conflicts, and a conflicting key is there
            raise DatabaseUnavailable("a save was neither stored nor found; try again")
        return earlier

    def _insert(self, conn: Any, pending: _Pending, count: int) -> tuple[Saved, int]:
        """The saved drawing, and 1 if it is new (0 for a repeated Idempotency-Key)."""
        d, key, sql = pending.drawing, pending.key, self.db.sql
        if count >= self.max_drawings:  # full, unless this is a retry of a save already stored
            earlier = None if key is None else self._by_key(conn, key)
            if earlier is not None:
                return self._same(earlier, d), 0
            raise CollectionFull(
                f"the collection is full ({self.max_drawings:,} drawings); the teacher can export and delete some"
            )
        row = conn.execute(sql(INSERT), self._row(pending)).fetchone()
        if row is None:  # the key was used before (by this server or another): the earlier save answers
            return self._same(self._earlier(conn, key), d), 0
        return Saved(int(row[0]), d), 1

    def _by_key(self, conn: Any, key: str) -> Saved | None:
        row = conn.execute(self.db.sql(f"SELECT {COLUMNS} FROM drawings WHERE idempotency_key = ?"), (key,)).fetchone()
        return None if row is None else saved_of(row)

    @staticmethod
    def _same(earlier: Saved, d: Drawing) -> Saved:
        if earlier.drawing.label != d.label or bytes(earlier.drawing.grid) != d.grid:
            raise KeyReused(
                "this Idempotency-Key was already used to save a different drawing; use a new key for each drawing"
            )
        return Saved(earlier.id, earlier.drawing, repeated=True)

    # -- the teacher's reads ------------------------------------------------------------------
    def page(
        self, limit: int, before: int | None, digit: int | None, wrong: bool, class_code: str | None = None
    ) -> list[Saved]:
        """Newest first: at most `limit` drawings with an id below `before` (of one class, if given)."""
        where, args = ["id < ?"], [before if before is not None else 2**62]
        if class_code is not None:
            where.append("class = ?")
            args.append(class_code)  # type: ignore[arg-type]
        if digit is not None:
            where.append("label = ?")
            args.append(digit)
        if wrong:
            where.append("answer <> label")
        statement = f"SELECT {COLUMNS} FROM drawings WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?"
        with self.db.transaction(write=False) as conn:
            return [saved_of(r) for r in conn.execute(self.db.sql(statement), (*args, limit)).fetchall()]

    def delete(self, drawing_id: int) -> bool:
        with self.db.transaction(write=True) as conn:
            cur = conn.execute(self.db.sql("DELETE FROM drawings WHERE id = ?"), (drawing_id,))
            return bool(cur.rowcount)

    def confusion(self, class_code: str | None = None) -> tuple[np.ndarray, dict[str, int], int]:
        """(10, 10) counts, rows the digit meant, columns the network's answer; the drawings answered
        by each set of weights (by SHA-256); and the newest id the counts include (0: none), read by
        the same statement, so that a live board adds only the drawings saved after it. Of one class,
        if given."""
        matrix = np.zeros((10, 10), dtype=np.int64)
        where, args = of_class(class_code)
        newest = 0
        with self.db.transaction(write=False) as conn:
            grouped = conn.execute(
                self.db.sql(f"SELECT label, answer, count(*), max(id) FROM drawings{where} GROUP BY label, answer"),
                args,
            )
            for label, answer, n, last in grouped:
                matrix[label, answer] = n
                newest = max(newest, int(last))
            by_weights = f"SELECT weights_sha256, count(*) FROM drawings{where} GROUP BY weights_sha256"
            weights = dict(conn.execute(self.db.sql(by_weights), args))
        return matrix, {str(k): int(v) for k, v in weights.items()}, newest

    def count(self, class_code: str | None = None) -> int:
        """How many drawings there are: every one, or one class's."""
        where, args = of_class(class_code)
        with self.db.transaction(write=False) as conn:
            return int(conn.execute(self.db.sql(f"SELECT count(*) FROM drawings{where}"), args).fetchone()[0])

    def rows_after(self, after: int, limit: int, class_code: str | None = None) -> list[tuple[int, int, bytes]]:
        """For an export: (id, label, grid) of at most `limit` drawings with ids above `after` (of one
        class, if given), oldest first, in one short transaction of its own: an export waiting for its
        client holds nothing in the database (no snapshot that keeps SQLite's WAL growing or
        PostgreSQL's VACUUM waiting)."""
        of_the_class = "" if class_code is None else " AND class = ?"
        statement = f"SELECT id, label, grid FROM drawings WHERE id > ?{of_the_class} ORDER BY id LIMIT ?"
        args = (after, limit) if class_code is None else (after, class_code, limit)
        with self.db.transaction(write=False) as conn:
            rows = conn.execute(self.db.sql(statement), args).fetchall()
        return [(int(i), int(label), bytes(grid)) for i, label, grid in rows]

    def training_set(self, limit: int, class_code: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The newest `limit` drawings (of one class, if given) as (ids (N,), uint8 images (N, 28, 28), labels (N,))."""
        where, args = of_class(class_code)
        with self.db.transaction(write=False) as conn:
            rows = conn.execute(
                self.db.sql(f"SELECT id, label, grid FROM drawings{where} ORDER BY id DESC LIMIT ?"), (*args, limit)
            ).fetchall()
        rows.reverse()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        labels = np.array([r[1] for r in rows], dtype=np.uint8)
        grids = b"".join(bytes(r[2]) for r in rows)
        images = to_uint8(np.frombuffer(grids, "<f4")).reshape(len(rows), 28, 28)
        return ids, images, labels


def of_class(class_code: str | None) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause and its arguments: every drawing, or one class's."""
    return ("", ()) if class_code is None else (" WHERE class = ?", (class_code,))


def saved_of(row: Any) -> Saved:
    drawing_id, created_at, label, answer, probability, sha, grid = row
    return Saved(int(drawing_id), Drawing(bytes(grid), int(label), int(answer), float(probability), sha, created_at))


def _settle(future: asyncio.Future[Saved], result: Saved | BaseException) -> None:
    if future.done():  # the client went away and the request was cancelled
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
