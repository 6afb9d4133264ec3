"""The options of `python -m model.train` (model/train.py), and the recipe they make.

An option given overrides that field of the recipe (recipes.py): of `--recipe NAME`'s entry, else
of Recipe()'s defaults; an option left out keeps the recipe's value.
"""

from __future__ import annotations

import argparse
from dataclasses import fields, replace
from typing import Any

from .optimizers import OPTIMIZERS
from .recipes import NAMES, RECIPES, Recipe

DESCRIPTION = "Train the article's network on MNIST: mini-batch SGD (momentum, Nesterov or Adam), augmentation."
# what the command line trains (or, for NAMES, replays); "class" needs the served weights and a class's drawings
TRAINED = tuple(name for name, recipe in RECIPES.items() if recipe.init != "served")
RENAMED = {"kernel": "k", "no_test": "test"}  # the options whose field has another name


def parser() -> argparse.ArgumentParser:
    d = Recipe()
    p = argparse.ArgumentParser(prog="python -m model.train", description=DESCRIPTION)
    p.add_argument(
        "--recipe",
        choices=TRAINED,
        help=f"start from this entry of model/training/recipes.py; {' and '.join(NAMES)} (POST /train's) are "
        "replayed epoch by epoch, scored beside the article's log, and only --epochs, --seed, --limit, "
        "--test-limit and --data-dir apply",
    )
    p.add_argument("--epochs", type=int, help=f"[{d.epochs}]")
    p.add_argument("--batch-size", type=int, help=f"[{d.batch_size}]")
    p.add_argument("--lr", type=float, help=f"initial learning rate [{d.lr}]")
    p.add_argument("--momentum", type=float, help=f"[{d.momentum}]")
    p.add_argument("--seed", type=int, help=f"[{d.seed}]")
    p.add_argument("--limit", type=int, help="train on the first LIMIT images only")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help=f"[{d.optimizer}]")
    p.add_argument("--augment", action="store_true", default=None, help="redraw every training digit at random")
    p.add_argument("--clean-epochs", type=int, help=f"with --augment, N last epochs of plain digits [{d.clean_epochs}]")
    p.add_argument(
        "--clean-lr", type=float, help=f"restart the learning rate at this for the clean epochs [{d.clean_lr}]"
    )
    p.add_argument(
        "--clean-redrawn", type=float, help=f"the share of clean epochs' batches redrawn [{d.clean_redrawn}]"
    )
    p.add_argument(
        "--threads",
        type=int,
        help=f"cores to use; 2 draws the batches ahead in a process of their own: the same run, bit for bit "
        f"[{d.threads}]",
    )
    p.add_argument("--validation", type=int, help=f"hold out N training images to validate on [{d.validation}]")
    p.add_argument("--data-dir", help="directory of the MNIST IDX files [$MNIST_DIR, else a download cache]")
    p.add_argument("--out", default="weights/cnn", help="weights to write, OUT.npz and OUT.json [%(default)s]")
    p.add_argument("--resume", action="store_true", help="continue from OUT.ckpt.npz if it exists")
    p.add_argument("--plots", metavar="DIR", help="draw learning curves and the confusion matrix here")
    p.add_argument("--n1", type=int, help=f"kernels of the first convolution [{d.n1}]")
    p.add_argument("--n2", type=int, help=f"kernels of the second convolution [{d.n2}]")
    p.add_argument("--kernel", type=int, help=f"the side of every kernel [{d.k}]")
    p.add_argument("--label-smoothing", type=float, help=f"[{d.label_smoothing}]")
    p.add_argument("--teacher", help="weights to distil from (objectives.py); with --distill > 0")
    p.add_argument("--temperature", type=float, help=f"of distillation [{d.temperature}]")
    p.add_argument("--distill", type=float, help=f"the teacher's share [{d.distill}]")
    p.add_argument("--ema", type=float, help=f"weight average decay, 0: none [{d.ema}]")
    p.add_argument("--init", help=f"he or uniform (drawn from the seed), or weights to fine-tune [{d.init}]")
    p.add_argument(
        "--no-test",
        action="store_false",
        default=None,
        help="an experiment: select on the validation split, never read the test set",
    )
    p.add_argument("--test-limit", type=int, help="with a replayed recipe: score on the first N test images only")
    return p


def recipe_of(args: argparse.Namespace) -> Recipe:
    """The recipe named by --recipe (else the defaults), with every option given put in its field."""
    names = {f.name for f in fields(Recipe)}
    given: dict[str, Any] = {RENAMED.get(k, k): v for k, v in vars(args).items() if v is not None}
    return replace(RECIPES[args.recipe] if args.recipe else Recipe(), **{k: v for k, v in given.items() if k in names})


def check(recipe: Recipe) -> str | None:
    """What is wrong with the recipe's numbers, if anything."""
    if recipe.epochs < 1 or recipe.batch_size < 1 or recipe.lr <= 0 or not 0 <= recipe.momentum < 1:
        return "need epochs >= 1, batch size >= 1, lr > 0 and 0 <= momentum < 1"
    if not 1 <= recipe.threads <= 64:
        return "need 1 <= threads <= 64"
    if recipe.init == "served":
        return "--init served is the service's (a class's fine-tune); give the weights to start from instead"
    return None
