"""The drawings' tables, as numbered migrations: a database is brought up to the newest version
at start-up, one migration per transaction, and never loses a row on the way.

Each migration is written once per dialect where the two differ (the identity column, the blob
type). `schema_version` holds the version a database has reached; a database newer than this
code is refused rather than written to.
"""

from __future__ import annotations

from typing import Literal

Dialect = Literal["sqlite", "postgresql"]

# The classes (app/classes/): the same in both dialects.
CLASSES_TABLE = """CREATE TABLE classes (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'paused', 'closed')),
    created_at TEXT NOT NULL,
    network TEXT,
    network_sha256 TEXT,
    network_drawings INTEGER,
    network_calibration TEXT,
    published_at TEXT
)"""

# migration number -> its statements per dialect
MIGRATIONS: dict[int, dict[Dialect, list[str]]] = {
    1: {
        "sqlite": [
            """CREATE TABLE drawings (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                created_at TEXT NOT NULL,
                label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
                answer INTEGER NOT NULL CHECK (answer BETWEEN 0 AND 9),
                probability REAL NOT NULL,
                weights_sha256 TEXT NOT NULL,
                grid BLOB NOT NULL
            )""",
        ],
        "postgresql": [
            """CREATE TABLE drawings (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                created_at TEXT NOT NULL,
                label SMALLINT NOT NULL CHECK (label BETWEEN 0 AND 9),
                answer SMALLINT NOT NULL CHECK (answer BETWEEN 0 AND 9),
                probability DOUBLE PRECISION NOT NULL,
                weights_sha256 TEXT NOT NULL,
                grid BYTEA NOT NULL
            )""",
        ],
    },
    # A retried save is stored once (Idempotency-Key); the teacher's view lists one digit at a time.
    2: {
        "sqlite": [
            "ALTER TABLE drawings ADD COLUMN idempotency_key TEXT",
            "CREATE UNIQUE INDEX drawings_idempotency_key ON drawings (idempotency_key)",
            "CREATE INDEX drawings_label_id ON drawings (label, id)",
        ],
        "postgresql": [
            "ALTER TABLE drawings ADD COLUMN idempotency_key TEXT",
            "CREATE UNIQUE INDEX drawings_idempotency_key ON drawings (idempotency_key)",
            "CREATE INDEX drawings_label_id ON drawings (label, id)",
        ],
    },
    # Classes (app/classes/): a drawing may belong to one (NULL: the collection without a class); the
    # classes, and what happened in each that is not a save (the live board replays both by id).
    3: {
        "sqlite": [
            "ALTER TABLE drawings ADD COLUMN class TEXT",
            "CREATE INDEX drawings_class_id ON drawings (class, id)",
            CLASSES_TABLE,
            """CREATE TABLE class_events (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                class TEXT NOT NULL,
                kind TEXT NOT NULL,
                data TEXT NOT NULL
            )""",
            "CREATE INDEX class_events_class_id ON class_events (class, id)",
        ],
        "postgresql": [
            "ALTER TABLE drawings ADD COLUMN class TEXT",
            "CREATE INDEX drawings_class_id ON drawings (class, id)",
            CLASSES_TABLE,
            """CREATE TABLE class_events (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                class TEXT NOT NULL,
                kind TEXT NOT NULL,
                data TEXT NOT NULL
            )""",
            "CREATE INDEX class_events_class_id ON class_events (class, id)",
        ],
    },
    # "The last minutes" (DELETE /drawings?minutes=N, its dry run first) reads only the newest rows,
    # not the whole table: 129 -> 1.4 ms on SQLite, 26 -> 1.6 ms on PostgreSQL at 100,000 drawings.
    4: {
        "sqlite": ["CREATE INDEX drawings_created_at ON drawings (created_at)"],
        "postgresql": ["CREATE INDEX drawings_created_at ON drawings (created_at)"],
    },
}
LATEST = max(MIGRATIONS)
VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
# Replicas starting together against one PostgreSQL take turns migrating (a transaction-scoped lock).
PG_MIGRATION_LOCK = 29_0001


class SchemaTooNew(RuntimeError):
    """The database was written by a newer version of the service."""
