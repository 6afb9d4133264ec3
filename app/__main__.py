"""python -m app [--host H] [--port P] [--workers N] [--weights PATH] [--log-level L]: serve the network.

Each option's default is its setting (app/config.py: CNN_HOST, CNN_PORT, CNN_WORKERS, CNN_WEIGHTS,
CNN_LOG_LEVEL), so that a container is configured without changing its command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import sys
import tempfile

import model

from .classes.join import is_loopback, machine_addresses
from .config import Settings, variable
from .transport import metrics, server

METRICS_PREFIX = "cnn-metrics-"  # then the pid of the `python -m app` that made it: cnn-metrics-1234-abcd


def remove_stale_metrics_directories() -> list[str]:
    """Remove the shared metrics directories of earlier `python -m app` that died without removing
    theirs (SIGKILL, a crash): this user's, whose process no longer runs. Returns what it removed."""
    root, removed = tempfile.gettempdir(), []
    for name in os.listdir(root):
        pid = name.removeprefix(METRICS_PREFIX).partition("-")[0]
        path = os.path.join(root, name)
        if not name.startswith(METRICS_PREFIX) or not (pid.isdigit() and len(pid) <= 7) or metrics.alive(int(pid)):
            continue
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if info.st_uid != os.getuid() or not stat.S_ISDIR(info.st_mode):  # never another user's, nor a link
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def join_lines(settings: Settings) -> list[str]:
    """Where the teacher's view and the phones reach this server, said at start when it listens beyond
    loopback (the log's own line would say 0.0.0.0, which no phone can open)."""

    if is_loopback(settings.host):
        return [f"the teacher's view: http://127.0.0.1:{settings.port}/teacher.html (phones cannot reach 127.0.0.1:"
                " start with --host 0.0.0.0 for a class)"]  # fmt: skip
    if settings.public_url:
        bases = [settings.public_url.rstrip("/")]
    elif settings.host in ("0.0.0.0", "::"):
        bases = [f"http://{address}:{settings.port}" for address in machine_addresses()]
    else:
        bases = [f"http://{settings.host}:{settings.port}"]
    return [f"the teacher's view: {base}/teacher.html; phones join at {base}/c/<the class's code>" for base in bases]


def main(argv: list[str] | None = None) -> int:
    try:
        settings = Settings()
    except ValueError as e:
        print(f"error: cannot start: {e}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m app", description="serve the network.")
    parser.add_argument("--host", default=settings.host, help="address to listen on [%(default)s]")
    parser.add_argument("--port", type=int, default=settings.port, help="[%(default)s]")
    parser.add_argument("--workers", type=int, default=settings.workers, help="worker processes [%(default)s]")
    parser.add_argument("--weights", help="weights file (.npz) [$CNN_WEIGHTS, else the committed weights/cnn.npz]")
    parser.add_argument(
        "--log-level", default=settings.log_level, choices=("critical", "error", "warning", "info", "debug")
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    # The server processes build their settings from the environment: the options go there too.
    chosen = {"host": args.host, "port": args.port, "workers": args.workers, "log_level": args.log_level}
    if args.weights:
        chosen["weights"] = os.path.abspath(args.weights)
    try:
        settings = Settings(**chosen)
        model.load(settings.weights)  # fail fast, with one clear line, before any worker starts
    except (ValueError, model.WeightsError) as e:
        message = str(e)  # the environment's values passed above: an option is to blame, named as typed
        for name in chosen:
            message = message.replace(variable(name), "--" + name.replace("_", "-"))
        print(f"error: cannot start: {message}", file=sys.stderr)
        return 2
    os.environ.update({variable(name): str(value) for name, value in chosen.items()})
    shared = None
    if settings.workers > 1 and settings.metrics_dir is None:
        # Each server process leaves its numbers here, so that /metrics answers for them all, and
        # the drawings' rate limits are one table here (app/drawings/guard.py), so they hold for them all.
        remove_stale_metrics_directories()
        shared = tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-")
        os.environ[variable("metrics_dir")] = shared  # the workers build their settings from the environment
    if settings.teacher_token:
        for line in join_lines(settings):
            print(line, file=sys.stderr)
    try:
        server.run(settings)
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
