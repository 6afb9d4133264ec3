"""The service's settings: one class, each field read from the CNN_* variable of its name, built
once (get_settings) and passed into create_app. Nothing else reads the environment for the app
(model/fast/ reads CNN_FAST for the model); tests/test_settings.py holds the README's table equal
to this class.
"""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PACKAGE = Path(__file__).resolve().parent
PREFIX = "CNN_"


def _bundled(name: str) -> Path:
    """app/<name> in an installed package (see pyproject.toml), else <name>/ at the top of the source tree."""
    installed = PACKAGE / name
    return installed if installed.is_dir() else PACKAGE.parent / name


def _pool_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def documented(default: str) -> Any:
    """The README's words for a default that is computed, not written in the class."""
    return {"readme_default": default}


class SettingsError(ValueError):
    """A setting the service cannot start with; the message names the variable and the bad value."""


class Settings(BaseSettings):
    """Every knob of the service, each set by the environment variable CNN_<FIELD NAME>."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="forbid")

    # How python -m app listens (read there, before uvicorn starts).
    host: str = Field(
        "127.0.0.1",
        description="address to listen on",
        json_schema_extra=documented("`0.0.0.0` in the image, `127.0.0.1` outside"),
    )
    port: int = Field(8000, ge=0, le=65535, description="port")
    workers: int = Field(1, ge=1, description="worker processes")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        "info", description="`critical` … `debug`"
    )
    weights: Path = Field(
        _bundled("weights") / "cnn.npz",
        description="weights to serve (mount your own with `-v`)",
        json_schema_extra=documented("the packaged `app/weights/cnn.npz`"),
    )
    static_dir: Path = Field(
        _bundled("static"), description="the page's files", json_schema_extra=documented("the packaged `app/static`")
    )
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1, description="larger requests get 413")
    max_batch: int = Field(256, ge=1, description="images per `/predict/batch` call")
    max_drawing_side: int = Field(
        1024, ge=1, le=1024, description="rows and columns of a raw JSON drawing (at most 1024)"
    )
    # Work off the event loop (app/transport/pool.py).
    pool_workers: int = Field(
        default_factory=_pool_workers,
        ge=1,
        le=64,
        description="worker processes (per server process) for uploads, large bodies, `/explain`, `/teach`, batches",
        json_schema_extra=documented("cores, at most 4"),
    )
    pool_waiting: int = Field(
        8, ge=0, description="requests that may wait for a busy pool; the next gets 503 with `Retry-After`"
    )
    job_cpu_seconds: float = Field(
        2.0,
        ge=0.1,
        description="CPU time one request may take in a worker; past it the worker is ended (422) and replaced",
    )
    job_wall_seconds: float = Field(10.0, ge=0.1, description="time one request may take in a worker (503 past it)")
    worker_memory_bytes: int = Field(
        1024 * 1024 * 1024,
        ge=64 * 2**20,
        description="memory a worker may add to what it holds at start (503 past it)",
    )
    bodies_in_flight_bytes: int = Field(64 * 1024 * 1024, ge=1, description="request bodies held at once; past it, 503")
    # Slow clients: the headers must arrive within header_timeout seconds of the connection (or of
    # the request's first byte), the whole body within body_timeout; 408 otherwise.
    header_timeout: float = Field(
        10.0, ge=0.1, description="seconds for a request's headers to arrive (408 and closed past it)"
    )
    body_timeout: float = Field(30.0, ge=0.1, description="seconds for a request's whole body to arrive (408 past it)")
    max_connections: int = Field(2048, ge=1, description="open connections per server process (503 past it)")
    shutdown_timeout: float = Field(
        5.0, ge=0, description="on SIGTERM, requests still running after this many seconds are cut (503)"
    )
    # Headers and answers bounded (app/transport/server.py, app/transport/backlog.py): what a client
    # sends before its body, and what it leaves unread, cost the server no more than these.
    max_header_bytes: int = Field(
        64 * 1024,
        ge=1024,
        description="bytes of a request's line and headers together; past it, 431 and the connection closed",
    )
    max_headers: int = Field(100, ge=8, description="headers in one request; past it, 431 and the connection closed")
    write_timeout: float = Field(
        30.0,
        ge=0.1,
        description="seconds an answer's bytes may wait for the client to read them; past it the connection is closed",
    )
    answer_backlog_bytes: int = Field(
        128 * 1024 * 1024,
        ge=1,
        description="answer bytes waiting for clients to read them (per server process); past it, 503 with "
        "`Retry-After` before the work is done",
    )
    max_json_map_images: int = Field(
        16,
        ge=1,
        description="images per `/v2` answer with feature maps in JSON; more need the maps as binary data (400)",
    )
    # Comma-separated; empty (the default): same-origin only, no CORS headers at all.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="origins allowed to call the API from other sites' pages", json_schema_extra=documented("empty")
    )
    metrics: bool = Field(True, description="`0` turns `GET /metrics` (Prometheus) and its bookkeeping off")
    # Set by python -m app when it starts several server processes. None: this process alone.
    metrics_dir: Path | None = Field(
        None,
        description="where the server processes share their numbers, so that `/metrics` adds them all up and "
        "the drawings' rate limits hold for them all",
        json_schema_extra=documented("a fresh temporary directory when `CNN_WORKERS` > 1"),
    )

    # The class's drawings (app/drawings/).
    teacher_token: str = Field(
        "",
        repr=False,  # never shown
        description="the teacher's token, at least 16 characters not all of one kind; empty: the class's drawings "
        "are off (every `/drawings` endpoint answers 404)",
        json_schema_extra=documented("empty"),
    )
    database_url: str = Field(
        "",
        repr=False,  # may hold a password
        description="where drawings are kept: `sqlite:///relative.db`, `sqlite:////absolute.db`, or "
        "`postgresql://user:password@host:5432/db` (needed for several replicas)",
        json_schema_extra=documented("empty: `drawings.db` under `CNN_DATA_DIR`"),
    )
    data_dir: Path = Field(
        Path("data"), description="the directory of the default SQLite file", json_schema_extra=documented("`./data`")
    )
    drawings_per_minute: int = Field(
        120,
        ge=1,
        le=10**9,
        description="saves per client address (an IPv6 client's /64) per minute, for all server processes together; "
        "past it, 429 with `Retry-After` (a whole class behind one school address shares it)",
    )
    max_drawings: int = Field(
        100_000,
        ge=1,
        le=10**9,
        description="drawings the collection holds; past it a save gets 409 until the teacher exports and deletes",
    )
    # Who a client is, and how fast the collection may fill (app/drawings/guard.py; issue 33).
    # Comma-separated addresses or networks; empty (the default): X-Forwarded-For is never read.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="proxies whose `X-Forwarded-For` names the client, as addresses or networks "
        "(`127.0.0.1,10.0.0.0/8`); empty: the connection's own address is the client",
        json_schema_extra=documented("empty"),
    )
    drawings_per_minute_total: int = Field(
        1200,
        ge=1,
        le=10**9,
        description="saves per minute from everyone together; past it, 429 with `Retry-After` (a flood from "
        "many addresses fills the collection no faster than this)",
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as e:
            raise SettingsError(in_words(e)) from None

    @property
    def collecting(self) -> bool:
        """Whether the class's drawings are collected: only with a teacher to read them (GET /model says it)."""
        return bool(self.teacher_token)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return tuple(o.strip() for o in value.split(",") if o.strip()) if isinstance(value, str) else value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        proxies = cls._comma_separated(value)
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or network (such as 10.0.0.0/8)") from None
        return proxies

    @field_validator("teacher_token")
    @classmethod
    def _strong(cls, value: str) -> str:
        if value and not strong_token(value):
            raise ValueError(WEAK_TOKEN)
        return value

    @field_validator("metrics_dir", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


MIN_TOKEN_LENGTH = 16
WEAK_TOKEN = (
    f"the teacher's token must be at least {MIN_TOKEN_LENGTH} characters and not all of one kind (digits, "
    'small letters, capitals); make one with: python -c "import secrets; print(secrets.token_urlsafe(24))"'
)


def strong_token(token: str) -> bool:
    """Long enough, and of more than one kind of character: "1234" and sixteen a's are guessed first."""
    kinds = {"digit" if c.isdigit() else "lower" if c.islower() else "upper" if c.isupper() else "other" for c in token}
    return len(token) >= MIN_TOKEN_LENGTH and len(kinds) > 1


def variable(field: str) -> str:
    return PREFIX + field.upper()


def in_words(e: ValidationError) -> str:
    """The first of pydantic's errors as the sentence the service starts with: the variable, what it
    must be, and what it was."""
    error = e.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else ""
    name, raw = variable(field), error.get("input")
    metadata = Settings.model_fields[field].metadata if field in Settings.model_fields else []
    low = next((m.ge for m in metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in metadata if isinstance(m, Le)), None)
    kind = error["type"]
    if kind in ("int_parsing", "int_from_float"):
        return f"{name} must be a whole number, got {raw!r}"
    if kind == "float_parsing":
        return f"{name} must be a number, got {raw!r}"
    if kind == "bool_parsing":
        return f"{name} must be 1 or 0 (on or off), got {raw!r}"
    if kind in ("greater_than_equal", "less_than_equal") and low is not None:
        within = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
        return f"{name} must be {within}, got {raw}"
    if field == "teacher_token":  # never echo the token, not even a weak one
        return f"{name}: {WEAK_TOKEN}"
    if kind == "extra_forbidden":
        return f"{field} is not a setting"
    return f"{name}: {str(error['msg']).removeprefix('Value error, ')}, got {raw!r}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
