"""Issue 37's levers, each on and off, scored on the validation split only (the test set is never read).

    python bench/levers.py --data-dir ../shared/mnist --runs /work/runs/model/levers [--teacher W] [--only NAME]

Each row is one run of model/train.py from the same seed on the first LIMIT training images,
VALIDATION of them held out (the rule of model/training/schedule.py); a row's weights and log go to
RUNS/NAME.*, and a finished row is not run again. The table prints validation accuracy, its errors
out of VALIDATION, and the run's time on this machine.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from model.fast.memory import reuse_freed_memory
from model.train import train
from model.training.recipes import Recipe


def rows(base: Recipe, teacher: str | None) -> dict[str, Recipe]:
    """The baseline (the committed weights' recipe, shortened) and each lever alone on top of it."""
    table = {
        "baseline": base,
        "no augmentation": replace(base, augment=False),
        "label smoothing 0.1": replace(base, label_smoothing=0.1),
        "EMA 0.995": replace(base, ema=0.995),
        "smoothing + EMA": replace(base, label_smoothing=0.1, ema=0.995),
    }
    if teacher:
        for T in (2.0, 4.0):
            table[f"distil T={T:g} a=0.5"] = replace(base, teacher=teacher, distill=0.5, temperature=T)
        table["distil T=4 a=0.9"] = replace(base, teacher=teacher, distill=0.9, temperature=4.0)
        table["distil T=4 a=0.5 + EMA"] = replace(base, teacher=teacher, distill=0.5, temperature=4.0, ema=0.995)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--runs", required=True, type=Path, help="where each row's weights and result go")
    parser.add_argument("--teacher", help="weights to distil from: adds the distillation rows")
    parser.add_argument("--limit", type=int, default=20000)
    parser.add_argument("--validation", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", help="run this row alone")
    args = parser.parse_args()
    base = Recipe(
        epochs=args.epochs,
        batch_size=64,
        lr=0.05,
        seed=args.seed,
        limit=args.limit,
        augment=True,
        validation=args.validation,
        test=False,
    )
    reuse_freed_memory()
    args.runs.mkdir(parents=True, exist_ok=True)
    for name, cfg in rows(base, args.teacher).items():
        if args.only and name != args.only:
            continue
        result = args.runs / (name.replace(" ", "_").replace("=", "") + ".result.json")
        if not result.is_file():
            started = time.perf_counter()
            meta = train(cfg, args.data_dir, str(result).removesuffix(".result.json"))
            accuracy = meta["validation"]["accuracy"]
            record = {"name": name, "validation_accuracy": accuracy, "seconds": time.perf_counter() - started}
            result.write_text(json.dumps(record))
        record = json.loads(result.read_text())
        errors = round((1 - record["validation_accuracy"]) * args.validation)
        print(f"| {name} | {record['validation_accuracy']:.2%} | {errors} | {record['seconds']:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
