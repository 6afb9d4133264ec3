"""How far a request travels through our code: the modules of app/ (and model/'s entry) a /predict
drawing passes from its route to model/, and a /drawings save from its route to the database, with
the calls that cross from one module to another (hops) on the way. Counts, not timings: the same on
every machine, so a test holds them (tests/test_request_path.py).

    python -m bench.hops          # both paths: the modules in the order entered, and the counts

A profiler (sys.setprofile, and threading.setprofile for the drawings' writer thread) watches one
request, after one like it has warmed every cache: it starts at the first function of ours that a
router (FastAPI's or Starlette's) calls as the route, or at the request path if a router of ours
(middleware) hands the request to it first, and stops at the network, the first function of
model/ other than model/floats.py's flush-to-zero switch (/predict), or at the
first statement sent to SQLite (a save). A module counts once; a hop is a call (not a coroutine's
resumption) into a module from a function of another (library frames between them are looked
through); model/'s calls among its own modules are not the request path's and do not count.
"""

from __future__ import annotations

import asyncio
import os
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import numpy as np

from app.config import Settings
from app.main import create_app

ROOT = Path(__file__).resolve().parents[1]
STDLIB = Path(sysconfig.get_paths()["stdlib"])
ROUTERS = (os.sep + os.path.join("fastapi", "routing.py"), os.sep + os.path.join("starlette", "routing.py"))
TOKEN = "hops-teacher-token-0123456789"
ENTRY = "app.transport.request_path"  # where the path starts if no router of FastAPI's or Starlette's called it


@dataclass
class Route:
    """What one request passed through: modules in the order first entered, and the hops."""

    modules: list[str] = field(default_factory=list)
    hops: int = 0
    stdlib: set[str] = field(default_factory=set)  # the standard library's modules it called (json, base64...)


class Tracer:
    def __init__(self, stop: Callable[[str, str, Any], bool]) -> None:
        """`stop(event, module, arg)`: whether this profile event ends the path."""
        self.stop, self.names = stop, {}  # type: dict[str, str | None]
        self.on = self.started = self.done = False
        self.seen: list[FrameType] = []  # frames entered (kept alive: their ids stay theirs)
        self.ids: set[int] = set()
        self.path = Route()
        self.lock = threading.Lock()

    def module(self, filename: str) -> str | None:
        if filename not in self.names:
            path = Path(filename)
            name = None
            if path.is_relative_to(ROOT) and path.suffix == ".py":
                parts = path.relative_to(ROOT).with_suffix("").parts
                if parts[0] in ("app", "model"):
                    name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            self.names[filename] = name
        return self.names[filename]

    def library(self, filename: str) -> None:
        """Notes a module of the standard library by its name (json, base64), not a package's."""
        path = Path(filename)
        if path.is_relative_to(STDLIB) and "site-packages" not in path.parts:
            parts = path.relative_to(STDLIB).with_suffix("").parts
            self.path.stdlib.add(parts[0])

    def caller(self, frame: FrameType) -> tuple[str | None, bool]:
        """The module of the nearest function of ours that called this frame, and whether a router did."""
        back = frame.f_back
        while back is not None:
            filename = back.f_code.co_filename
            name = self.module(filename)
            if name is not None:
                return name, False
            if filename.endswith(ROUTERS):
                return None, True
            back = back.f_back
        return None, False

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if not self.on or self.done:
            return
        with self.lock:
            if event == "c_call" and self.started and self.stop(event, "", arg):
                self.done = True
                return
            if event != "call" or id(frame) in self.ids:
                return
            name = self.module(frame.f_code.co_filename)
            if name is None:
                if self.started:
                    self.library(frame.f_code.co_filename)
                return
            self.ids.add(id(frame))
            self.seen.append(frame)
            came_from, by_router = self.caller(frame)
            if not self.started:  # the route, or the request path if a router of ours reached it first
                entry = by_router and frame.f_code.co_name != "matches"  # a router's match is not its route
                if not entry and name != ENTRY:
                    return
                self.started = True
            if came_from is not None and came_from.startswith("model"):
                return  # model/'s own calls
            if came_from is not None and came_from != name:
                self.path.hops += 1
            if name not in self.path.modules:
                self.path.modules.append(name)
            if self.stop(event, name, arg):
                self.done = True


def into_model(event: str, module: str, arg: Any) -> bool:
    """The network reached: model/, other than model/floats.py's switch (the flush-to-zero mode)."""
    return module.startswith("model") and module != "model.floats"


def into_database(event: str, module: str, arg: Any) -> bool:
    return (
        event == "c_call"
        and getattr(arg, "__name__", "") in ("execute", "executemany")
        and (type(getattr(arg, "__self__", None)).__module__ == "sqlite3")
    )


async def follow(settings: Settings, method: str, url: str, bodies: list[dict[str, Any]], tracer: Tracer) -> Route:
    """Sends each body in turn, the last one watched."""
    app = create_app(settings)
    threading.setprofile(tracer)  # the threads the app starts from now on (the drawings' writer)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                for i, body in enumerate(bodies):
                    last = i == len(bodies) - 1
                    if last:
                        tracer.on = True
                        sys.setprofile(tracer)
                    r = await client.request(method, url, json=body)
                    sys.setprofile(None)
                    tracer.on = False
                    if r.status_code >= 300:
                        raise RuntimeError(f"{method} {url} answered {r.status_code}: {r.text[:200]}")
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]
    if not tracer.done:
        raise RuntimeError(f"{method} {url} never reached its end")
    return tracer.path


def drawing(seed: int) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return np.round(rng.random((28, 28)) * (rng.random((28, 28)) > 0.7), 3).tolist()


def in_a_thread(route: Coroutine[Any, Any, Route]) -> Route:
    """asyncio.run in a thread of its own: the caller's thread may have a loop running already (Playwright's
    sync API keeps one in the tests' main thread), and sys.setprofile follows the thread that runs the route."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, route).result()


def predict_path(weights: Path | None = None) -> Route:
    """A 28x28 drawing's /predict, from its route to model/."""
    settings = Settings(pool_workers=1, **({} if weights is None else {"weights": weights}))
    bodies = [{"image": drawing(1)}, {"image": drawing(2)}]
    return in_a_thread(follow(settings, "POST", "/predict", bodies, Tracer(into_model)))


def save_path(weights: Path | None = None) -> Route:
    """A 28x28 drawing's save (POST /drawings, SQLite), from its route to the database."""
    with tempfile.TemporaryDirectory() as data:
        options: dict[str, Any] = {"weights": weights} if weights is not None else {}
        settings = Settings(pool_workers=1, teacher_token=TOKEN, data_dir=Path(data), **options)
        bodies = [{"image": drawing(1), "label": 3}, {"image": drawing(2), "label": 4}]
        return in_a_thread(follow(settings, "POST", "/drawings", bodies, Tracer(into_database)))


if __name__ == "__main__":
    for what, path in (("/predict, route -> model/", predict_path()), ("save, route -> database", save_path())):
        print(f"{what}: {len(path.modules)} modules, {path.hops} hops")
        print("   " + " -> ".join(path.modules))
        print("   the standard library's modules called: " + ", ".join(sorted(path.stdlib)))
