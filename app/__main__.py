"""python -m app [--host H] [--port P] [--workers N] [--weights PATH]: serve the network."""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

import model

from .config import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__.split(":")[1].strip())
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on [%(default)s]")
    parser.add_argument("--port", type=int, default=8000, help="[%(default)s]")
    parser.add_argument("--workers", type=int, default=1, help="worker processes [%(default)s]")
    parser.add_argument("--weights", help="weights file (.npz) [$CNN_WEIGHTS, else the committed weights/cnn.npz]")
    parser.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    args = parser.parse_args(argv)
    if args.weights:
        os.environ["CNN_WEIGHTS"] = os.path.abspath(args.weights)  # the workers build their settings from it
    try:
        weights = Settings.from_env().weights
        model.load(weights)  # fail fast, with one clear line, before any worker starts
    except (ValueError, model.WeightsError) as e:
        print(f"error: cannot start: {e}", file=sys.stderr)
        return 2
    uvicorn.run("app.main:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
