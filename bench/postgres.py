"""A throwaway PostgreSQL server for the tests and the benchmarks: Debian's postgresql package, a cluster made with
initdb in a temporary directory, started with pg_ctl on a free port, stopped and removed after.

PostgreSQL refuses to run as root; as root (CI) the cluster belongs to the `postgres` user the
package creates. Missing PostgreSQL fails a test run in CI and skips its tests elsewhere; a benchmark
(bench/drawings.py, bench/classes.py, bench/db_faults.py) stops with the sentence.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from bench.servers import free_port


def bin_dir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(found[-1]) if found else None


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """A running PostgreSQL server; yields the URL of its `postgres` database (trust, 127.0.0.1 only)."""
    bindir = bin_dir()
    if bindir is None:
        message = "PostgreSQL not found: apt-get install postgresql (.ci/run does)"
        if "pytest" not in sys.modules:
            raise RuntimeError(message)
        import pytest  # a test's outcome, only where tests run

        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    home = tempfile.mkdtemp(prefix="cnn-pg-")
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(home, owner.pw_uid, owner.pw_gid)
    data, port = os.path.join(home, "data"), free_port()
    try:
        subprocess.run(
            _as_owner([f"{bindir}/initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]),
            check=True,
            capture_output=True,
        )
        options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c max_connections=100"
        subprocess.run(
            _as_owner([f"{bindir}/pg_ctl", "-D", data, "-o", options, "-l", f"{home}/log", "-w", "start"]),
            check=True,
            capture_output=True,
        )
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                _as_owner([f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]), capture_output=True
            )
    finally:
        shutil.rmtree(home, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """A new, empty database on the server; its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + "/" + name
