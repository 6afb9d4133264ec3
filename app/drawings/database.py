"""Where the drawings live: a SQLite file or a PostgreSQL server, reached through the standard
library's sqlite3 and psycopg 3 directly.

Why no SQLAlchemy: one table and a dozen statements, written once with `?` parameters (turned
into psycopg's `%s` here); what matters is control that an ORM or engine would hide: when a
transaction commits (one commit for a whole group of saves, app/drawings/store.py), how SQLite
syncs (WAL, synchronous=FULL), how long a lock is waited for, and what each fault is called when it
reaches a person (503 with a sentence).
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.transport.errors import RETRY_AFTER_SECONDS, Failure

from .migrations import LATEST, MIGRATIONS, PG_MIGRATION_LOCK, VERSION_TABLE, Dialect, SchemaTooNew

log = logging.getLogger("uvicorn.error")

# Another connection holding SQLite's write lock (a group commit takes milliseconds): wait this long,
# then answer 503. Longer waits only held requests (a DELETE waited 30 s for a 500, a save 60 s).
SQLITE_BUSY_MS = 2_000
# After a checkpoint the WAL file is cut back to this size, so one burst of saves does not keep it large.
SQLITE_WAL_LIMIT = 16 * 1024 * 1024
IDLE_CONNECTIONS = 4  # PostgreSQL connections kept open for the teacher's reads


class DatabaseUnavailable(Failure):
    """The database cannot be reached or refused the work: 503 with Retry-After, wherever it is raised."""

    status, retry_after = 503, RETRY_AFTER_SECONDS


class DatabaseDamaged(DatabaseUnavailable):
    """The SQLite file fails its check: the service does not start on it."""


def is_fault(e: BaseException) -> bool:
    """An error of the database itself (unreachable, restarted, locked, damaged), not of our statements."""
    if isinstance(e, sqlite3.OperationalError) or type(e) is sqlite3.DatabaseError:
        return True
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(e, (psycopg.OperationalError, psycopg.InterfaceError))


def unavailable(e: BaseException) -> DatabaseUnavailable:
    """The fault as a sentence for the person who asked (the 503's detail; no password is in it)."""
    said = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
    if isinstance(e, sqlite3.Error):
        if "locked" in said or "busy" in said:
            return DatabaseUnavailable(
                "the drawings' database is locked by another program; try again in a few seconds"
            )
        if type(e) is sqlite3.DatabaseError:  # SQLITE_CORRUPT, SQLITE_NOTADB
            return DatabaseUnavailable(
                f"the drawings' database file is damaged ({said}): the administrator must restore it from "
                "a backup (or recover it with sqlite3's .recover); nothing can be read or saved until then"
            )
        return DatabaseUnavailable(f"the drawings' database failed ({said}); try again")
    # PostgreSQL's words name its host and port: logged, never told (a save's 503 reaches anyone)
    log.warning("drawings: the database cannot be reached: %s", said)
    return DatabaseUnavailable("the drawings' database cannot be reached; try again in a moment")


def describe_url(url: str) -> str:
    """The URL without its password, for logs."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
    return url


@dataclass
class Database:
    """A connection factory for one database, and what its dialect needs."""

    dialect: Dialect
    target: str  # the SQLite file's path, or the PostgreSQL URL
    _idle: list[Any] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, url: str, data_dir: Path) -> Database:
        """CNN_DATABASE_URL: unset -> data_dir/drawings.db; sqlite:///relative.db or sqlite:////absolute.db
        (SQLAlchemy's spelling); postgresql://user:password@host:port/db."""
        if not url:
            return cls("sqlite", str(data_dir / "drawings.db"))
        if url.startswith("sqlite:///"):
            return cls("sqlite", url.removeprefix("sqlite:///"))
        if url.startswith(("postgresql://", "postgres://")):
            return cls("postgresql", url)
        raise ValueError(
            f"CNN_DATABASE_URL must start with sqlite:/// or postgresql://, got {describe_url(url)[:40]!r}"
        )

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.dialect == "postgresql" else statement

    def connect(self) -> Any:
        try:
            if self.dialect == "sqlite":
                conn = sqlite3.connect(
                    self.target, timeout=SQLITE_BUSY_MS / 1000, isolation_level=None, check_same_thread=False
                )
                # WAL: readers never block the writer; FULL: a commit is on the disk (the WAL fsynced)
                # before it returns, so a 201 survives the power going out, not only a SIGKILL.
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
                conn.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_LIMIT}")
                return conn
            import psycopg  # only where PostgreSQL is used

            return psycopg.connect(self.target, autocommit=True, connect_timeout=10)
        except Exception as e:
            raise (unavailable(e) if is_fault(e) else DatabaseUnavailable(f"cannot open the database ({e})")) from e

    def begin(self, conn: Any, *, write: bool) -> None:
        """Start a transaction: SQLite's writer takes the write lock at once (no upgrade deadlocks)."""
        if self.dialect == "sqlite":
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        else:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ" if not write else "BEGIN")

    def start(self, kept: Any | None, *, write: bool) -> Any:
        """A connection inside a new transaction. A kept PostgreSQL connection that cannot begin (the
        server restarted, or closed it) is dropped with every idle one, and a new one tried once:
        nothing was done on it yet, so trying again is safe. Faults are DatabaseUnavailable."""
        if kept is not None:
            try:
                self.begin(kept, write=write)
                return kept
            except Exception as e:
                if not is_fault(e):
                    raise
                if self.dialect != "postgresql":  # SQLite's connections do not die: locked or damaged
                    raise unavailable(e) from e
                log.warning("drawings: a kept database connection had failed (%s); connecting again", e)
                kept.close()
                self.close()
        conn = self.connect()
        try:
            self.begin(conn, write=write)
        except Exception as e:
            conn.close()
            if is_fault(e):
                raise unavailable(e) from e
            raise
        return conn

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Any]:
        """A pooled connection inside one transaction, committed on success, rolled back otherwise;
        the database's faults come out as DatabaseUnavailable (503 with a sentence)."""
        conn = self.start(self.borrow(), write=write)
        ok = False
        try:
            yield conn
            conn.execute("COMMIT")
            ok = True
        except Exception as e:
            if is_fault(e):
                raise unavailable(e) from e
            raise
        finally:
            if not ok:
                try:
                    conn.execute("ROLLBACK")
                except Exception:  # noqa: BLE001 -- the connection is broken: dropped below
                    conn.close()
                    conn = None
            if conn is not None:
                self.give_back(conn)

    def borrow(self) -> Any | None:
        """An idle connection, or None (start() opens one)."""
        with self._lock:
            return self._idle.pop() if self._idle else None

    def give_back(self, conn: Any) -> None:
        with self._lock:
            if len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def migrate(self) -> int:
        """Bring the schema to LATEST, each migration in its own transaction; the version reached."""
        if self.dialect == "sqlite":
            Path(self.target).parent.mkdir(parents=True, exist_ok=True)
        conn = self.connect()
        try:
            conn.execute(VERSION_TABLE)
            while True:
                self.begin(conn, write=True)
                try:
                    if self.dialect == "postgresql":
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PG_MIGRATION_LOCK,))
                    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
                    version = row[0] or 0
                    if version > LATEST:
                        raise SchemaTooNew(
                            f"the drawings' database is at schema version {version}, newer than this "
                            f"service's {LATEST}: run the newer service, or point CNN_DATABASE_URL elsewhere"
                        )
                    if version == LATEST:
                        conn.execute("COMMIT")
                        break
                    for statement in MIGRATIONS[version + 1][self.dialect]:
                        conn.execute(statement)
                    conn.execute(self.sql("INSERT INTO schema_version (version) VALUES (?)"), (version + 1,))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            self.check(conn)
            return version
        except Exception as e:
            if is_fault(e):  # a damaged file, a locked one, a server gone: said as to requests (the start
                raise unavailable(e) from None  # tells its cause's words, which would be SQLite's bare ones)
            raise
        finally:
            conn.close()

    def check(self, conn: Any) -> None:
        """SQLite: a damaged file is told at start (PRAGMA quick_check reads every page once), not
        found later by the one request that reads its bad page."""
        if self.dialect != "sqlite":
            return
        problems = [" ".join(row[0].split()) for row in conn.execute("PRAGMA quick_check(3)")]  # one line
        if problems != ["ok"]:
            raise DatabaseDamaged(
                f"the file {self.target} is damaged ({'; '.join(problems)[:300]}): move it aside and restore a "
                f"backup, or recover what it holds with `sqlite3 {self.target} .recover`"
            )
