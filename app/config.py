"""The service's settings: built once from the environment and passed into create_app."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    """app/<name> in an installed package (see pyproject.toml), else <name>/ at the top of the source tree."""
    installed = PACKAGE / name
    return installed if installed.is_dir() else PACKAGE.parent / name


def _int_env(name: str, default: int, low: int = 1, high: int | None = None) -> int:
    return int(_number_env(name, default, low, high, int))


def _number_env(name: str, default: float, low: float, high: float | None = None, kind: type = float) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a {'whole ' if kind is int else ''}number, got {raw!r}") from None
    if not low <= value <= (high if high is not None else float("inf")):
        within = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
        raise ValueError(f"{name} must be {within}, got {value:g}")
    return value


def _switch_env(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if raw.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1 or 0 (on or off), got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Every knob of the service; each can be set by the environment variable in its comment."""

    weights: Path = _bundled("weights") / "cnn.npz"  # CNN_WEIGHTS
    static_dir: Path = _bundled("static")  # CNN_STATIC_DIR
    max_body_bytes: int = 8 * 1024 * 1024  # CNN_MAX_BODY_BYTES: larger requests get 413
    max_batch: int = 256  # CNN_MAX_BATCH: images per /predict/batch call
    max_drawing_side: int = 1024  # CNN_MAX_DRAWING_SIDE: rows and columns of a raw JSON drawing, at most 1024
    # Work off the event loop (app/pool.py): worker processes per server process, and how many
    # requests may wait for one before the next gets 503.
    pool_workers: int = max(1, min(os.cpu_count() or 1, 4))  # CNN_POOL_WORKERS
    pool_waiting: int = 8  # CNN_POOL_WAITING
    job_cpu_seconds: float = 2.0  # CNN_JOB_CPU_SECONDS: CPU time one request may take in a worker
    job_wall_seconds: float = 10.0  # CNN_JOB_WALL_SECONDS: time one request may take in a worker
    worker_memory_bytes: int = 1024 * 1024 * 1024  # CNN_WORKER_MEMORY_BYTES: memory one worker may add
    # Bytes of request bodies held at once by one server process; past it, 503.
    bodies_in_flight_bytes: int = 64 * 1024 * 1024  # CNN_BODIES_IN_FLIGHT_BYTES
    # Slow clients: the headers must arrive within header_timeout seconds of the connection (or of
    # the request's first byte), the whole body within body_timeout; 408 otherwise.
    header_timeout: float = 10.0  # CNN_HEADER_TIMEOUT
    body_timeout: float = 30.0  # CNN_BODY_TIMEOUT
    max_connections: int = 2048  # CNN_MAX_CONNECTIONS: open connections per server process; past it, 503
    shutdown_timeout: float = 5.0  # CNN_SHUTDOWN_TIMEOUT: on SIGTERM, requests still running then are cut
    # CNN_CORS_ORIGINS: comma-separated origins allowed to call the API from other sites' pages.
    # Empty (the default): same-origin only, no CORS headers at all.
    cors_origins: tuple[str, ...] = ()
    metrics: bool = True  # CNN_METRICS: 0 turns GET /metrics (Prometheus) and its bookkeeping off
    # CNN_METRICS_DIR: where the server processes of one `python -m app --workers N` share their numbers,
    # so that /metrics adds them all up; set by python -m app when N > 1. None: this process alone.
    metrics_dir: Path | None = None
    # The class's drawings (app/drawings/). CNN_DATABASE_URL: sqlite:///path/to.db, or
    # postgresql://user@host:port/db for several replicas; unset: drawings.db under CNN_DATA_DIR.
    database_url: str = field(default="", repr=False)  # CNN_DATABASE_URL (may hold a password)
    data_dir: Path = Path("data")  # CNN_DATA_DIR: where the default SQLite file lives
    # CNN_TEACHER_TOKEN: the teacher's bearer token; unset: the collection is off (404). Never shown in a repr.
    teacher_token: str = field(default="", repr=False)
    drawings_per_minute: int = 120  # CNN_DRAWINGS_PER_MINUTE: saves per client address per minute; then 429
    max_drawings: int = 100_000  # CNN_MAX_DRAWINGS: drawings the collection holds; past it, 409

    @property
    def collecting(self) -> bool:
        """Whether the class's drawings are collected: only with a teacher to read them (GET /model says it)."""
        return bool(self.teacher_token)

    @classmethod
    def from_env(cls) -> Settings:
        defaults = cls()
        return cls(
            weights=Path(os.environ.get("CNN_WEIGHTS", defaults.weights)),
            static_dir=Path(os.environ.get("CNN_STATIC_DIR", defaults.static_dir)),
            max_body_bytes=_int_env("CNN_MAX_BODY_BYTES", defaults.max_body_bytes),
            max_batch=_int_env("CNN_MAX_BATCH", defaults.max_batch),
            max_drawing_side=_int_env("CNN_MAX_DRAWING_SIDE", defaults.max_drawing_side, high=1024),
            pool_workers=_int_env("CNN_POOL_WORKERS", defaults.pool_workers, high=64),
            pool_waiting=_int_env("CNN_POOL_WAITING", defaults.pool_waiting, low=0),
            job_cpu_seconds=_number_env("CNN_JOB_CPU_SECONDS", defaults.job_cpu_seconds, 0.1),
            job_wall_seconds=_number_env("CNN_JOB_WALL_SECONDS", defaults.job_wall_seconds, 0.1),
            worker_memory_bytes=_int_env("CNN_WORKER_MEMORY_BYTES", defaults.worker_memory_bytes, 64 * 2**20),
            bodies_in_flight_bytes=_int_env("CNN_BODIES_IN_FLIGHT_BYTES", defaults.bodies_in_flight_bytes),
            header_timeout=_number_env("CNN_HEADER_TIMEOUT", defaults.header_timeout, 0.1),
            body_timeout=_number_env("CNN_BODY_TIMEOUT", defaults.body_timeout, 0.1),
            max_connections=_int_env("CNN_MAX_CONNECTIONS", defaults.max_connections),
            shutdown_timeout=_number_env("CNN_SHUTDOWN_TIMEOUT", defaults.shutdown_timeout, 0),
            cors_origins=tuple(o.strip() for o in os.environ.get("CNN_CORS_ORIGINS", "").split(",") if o.strip()),
            metrics=_switch_env("CNN_METRICS", defaults.metrics),
            metrics_dir=Path(os.environ["CNN_METRICS_DIR"]) if os.environ.get("CNN_METRICS_DIR") else None,
            database_url=os.environ.get("CNN_DATABASE_URL", defaults.database_url),
            data_dir=Path(os.environ.get("CNN_DATA_DIR", defaults.data_dir)),
            teacher_token=os.environ.get("CNN_TEACHER_TOKEN", defaults.teacher_token),
            drawings_per_minute=_int_env("CNN_DRAWINGS_PER_MINUTE", defaults.drawings_per_minute, high=10**9),
            max_drawings=_int_env("CNN_MAX_DRAWINGS", defaults.max_drawings, high=10**9),
        )


@lru_cache
def get_settings() -> Settings:
    return Settings.from_env()
