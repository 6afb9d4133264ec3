"""The service's settings: built once from the environment and passed into create_app."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    """app/<name> in an installed package (see pyproject.toml), else <name>/ at the top of the source tree."""
    installed = PACKAGE / name
    return installed if installed.is_dir() else PACKAGE.parent / name


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    """Every knob of the service; each can be set by the environment variable in its comment."""

    weights: Path = _bundled("weights") / "cnn.npz"  # CNN_WEIGHTS
    static_dir: Path = _bundled("static")  # CNN_STATIC_DIR
    max_body_bytes: int = 8 * 1024 * 1024  # CNN_MAX_BODY_BYTES: larger requests get 413
    max_batch: int = 256  # CNN_MAX_BATCH: images per /predict/batch call
    max_drawing_side: int = 1024  # CNN_MAX_DRAWING_SIDE: rows and columns of a raw JSON drawing
    # CNN_CORS_ORIGINS: comma-separated origins allowed to call the API from other sites' pages.
    # Empty (the default): same-origin only, no CORS headers at all.
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls) -> Settings:
        defaults = cls()
        return cls(
            weights=Path(os.environ.get("CNN_WEIGHTS", defaults.weights)),
            static_dir=Path(os.environ.get("CNN_STATIC_DIR", defaults.static_dir)),
            max_body_bytes=_int_env("CNN_MAX_BODY_BYTES", defaults.max_body_bytes),
            max_batch=_int_env("CNN_MAX_BATCH", defaults.max_batch),
            max_drawing_side=_int_env("CNN_MAX_DRAWING_SIDE", defaults.max_drawing_side),
            cors_origins=tuple(o.strip() for o in os.environ.get("CNN_CORS_ORIGINS", "").split(",") if o.strip()),
        )


@lru_cache
def get_settings() -> Settings:
    return Settings.from_env()
