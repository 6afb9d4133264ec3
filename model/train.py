"""`python -m model.train`: the training command; everything it does is in model/training/ (cli.py)."""

from __future__ import annotations

import sys

from .training.cli import main

if __name__ == "__main__":
    sys.exit(main())
