"""`python -m model.train`: one command, two kinds of run.

    python -m model.train --data-dir ../shared/mnist --epochs 40 --augment --out weights/cnn
    python -m model.train --recipe teacher --data-dir ../shared/mnist --out weights/teacher
    python -m model.train --recipe article --data-dir ../shared/mnist --epochs 10 --limit 10000 --test-limit 1000

Without --recipe it trains the served network (loop.py) and writes OUT.npz and OUT.json; with
--recipe it replays one of the live recipes (recipes.py, what POST /train runs) epoch by epoch,
scored beside the article's own log (replay.py).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from ..fast.memory import reuse_freed_memory
from ..mnist import MNISTError
from ..weights import WeightsError
from .checkpoints import CheckpointError
from .config import OFFLINE_RECIPES, TrainConfig
from .loop import train
from .optimizers import OPTIMIZERS
from .recipes import NAMES as RECIPE_NAMES
from .replay import replay

DESCRIPTION = "Train the article's network on MNIST: mini-batch SGD (momentum, Nesterov or Adam), augmentation."


def parser() -> argparse.ArgumentParser:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="python -m model.train", description=DESCRIPTION)
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="[%(default)s]")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="[%(default)s]")
    parser.add_argument("--lr", type=float, default=defaults.lr, help="initial learning rate [%(default)s]")
    parser.add_argument("--momentum", type=float, default=defaults.momentum, help="[%(default)s]")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="[%(default)s]")
    parser.add_argument("--limit", type=int, help="train on the first LIMIT images only")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer, help="[%(default)s]")
    parser.add_argument("--augment", action="store_true", help="redraw every training digit at random (augment.py)")
    parser.add_argument(
        "--clean-epochs",
        type=int,
        default=defaults.clean_epochs,
        help="with --augment, train the last N epochs on unaltered digits [%(default)s]",
    )
    parser.add_argument(
        "--validation",
        type=int,
        default=defaults.validation,
        help="hold out this many training images to validate and calibrate [%(default)s]",
    )
    parser.add_argument("--data-dir", help="directory of the MNIST IDX files [$MNIST_DIR, else a download cache]")
    parser.add_argument("--out", default="weights/cnn", help="weights to write, OUT.npz and OUT.json [%(default)s]")
    parser.add_argument("--resume", action="store_true", help="continue from OUT.ckpt.npz if it exists")
    parser.add_argument("--plots", metavar="DIR", help="draw learning curves and the confusion matrix here")
    parser.add_argument("--n1", type=int, default=defaults.n1, help="kernels of the first convolution [%(default)s]")
    parser.add_argument("--n2", type=int, default=defaults.n2, help="kernels of the second convolution [%(default)s]")
    parser.add_argument("--kernel", type=int, default=defaults.k, help="the side of every kernel [%(default)s]")
    parser.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing, help="[%(default)s]")
    parser.add_argument("--teacher", help="weights to distil from (objectives.py); with --distill > 0")
    parser.add_argument("--temperature", type=float, default=defaults.temperature, help="of distillation [%(default)s]")
    parser.add_argument("--distill", type=float, default=defaults.distill, help="the teacher's share [%(default)s]")
    parser.add_argument("--ema", type=float, default=defaults.ema, help="weight average decay, 0: none [%(default)s]")
    parser.add_argument(
        "--no-test", action="store_true", help="an experiment: select on the validation split, never read the test set"
    )
    parser.add_argument(
        "--recipe",
        choices=(*OFFLINE_RECIPES, *RECIPE_NAMES),
        help=f"{' or '.join(OFFLINE_RECIPES)}: train issue 37's recipe of model/training/config.py (--data-dir, "
        "--out, --resume, --seed and --no-test apply); otherwise replay a recipe of model/training/recipes.py (the "
        "article's, or ours on its terms) epoch by epoch, scored beside the article's log; only --epochs, --seed, "
        "--limit, --test-limit and --data-dir apply",
    )
    parser.add_argument("--test-limit", type=int, help="with --recipe: score on the first N test images only")
    return parser


def main(argv: list[str] | None = None) -> int:
    options = parser()
    args = options.parse_args(argv)
    if args.recipe in OFFLINE_RECIPES:
        return _train(replace(OFFLINE_RECIPES[args.recipe], seed=args.seed, test=not args.no_test), args)
    if args.recipe:
        try:
            replay(args.recipe, args.data_dir, args.epochs, args.seed, args.limit, args.test_limit)
        except MNISTError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or not 0 <= args.momentum < 1:
        options.error("need epochs >= 1, batch size >= 1, lr > 0 and 0 <= momentum < 1")
    cfg = TrainConfig(
        args.epochs,
        args.batch_size,
        args.lr,
        args.momentum,
        args.seed,
        args.limit,
        args.optimizer,
        args.augment,
        args.validation,
        args.clean_epochs,
        args.n1,
        args.n2,
        args.kernel,
        args.label_smoothing,
        args.teacher,
        args.temperature,
        args.distill,
        args.ema,
        not args.no_test,
    )
    return _train(cfg, args)


def _train(cfg: TrainConfig, args: argparse.Namespace) -> int:
    reuse_freed_memory()  # see model/fast/memory.py
    try:
        train(cfg, args.data_dir, args.out, resume=args.resume, plots_dir=args.plots)
    except (MNISTError, CheckpointError, ValueError, WeightsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
