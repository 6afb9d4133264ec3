"""Checkpoints of the offline trainer: parameters, optimiser state and history in one .npz,
written atomically after every epoch, so that --resume continues exactly."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from ..cnn import CNN
from ..network import Params
from ..weights import atomic_write_bytes, npz_bytes
from .recipes import Recipe


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed; the message says why."""


def save_checkpoint(
    path: Path,
    cfg: Recipe,
    net: CNN,
    velocity: Params,
    epoch: int,
    history: list[dict[str, float]],
    average: Params | None = None,
) -> None:
    state = json.dumps({"config": dataclasses.asdict(cfg), "epoch": epoch, "history": history})
    arrays = {**net.params, **{f"optimizer_{k}": v for k, v in velocity.items()}, "state": np.array(state)}
    if average is not None:
        arrays |= {f"ema_{k}": v for k, v in average.items()}
    atomic_write_bytes(path, npz_bytes(arrays))


def load_checkpoint(path: Path, cfg: Recipe) -> tuple[CNN, Params, int, list[dict[str, float]], Params | None]:
    """The network, optimiser state, epochs done, history and weight average saved at path."""
    arch = cfg.architecture
    try:
        with np.load(path, allow_pickle=False) as z:
            state = json.loads(z["state"].item())
            net = CNN({k: z[k] for k in arch.param_shapes()}, arch)
            velocity = {k.removeprefix("optimizer_"): z[k] for k in z.files if k.startswith("optimizer_")}
            average = {k.removeprefix("ema_"): z[k] for k in z.files if k.startswith("ema_")} or None
    except (OSError, KeyError, ValueError) as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e}") from None
    # Settings added since the checkpoint was written had their defaults then; a recipe's name changes
    # no number (a run of --recipe teacher resumes the one of the same options without it), nor does
    # the number of cores but by float32 rounding (threads, from 3 on).
    defaults = Recipe()
    was = {
        k: state["config"].get(k, getattr(defaults, k)) for k in dataclasses.asdict(cfg) if k not in ("name", "threads")
    }
    differs = {k: (v, getattr(cfg, k)) for k, v in was.items() if getattr(cfg, k) != v}
    if differs:
        said = ", ".join(f"{k}={was!r} (now {now!r})" for k, (was, now) in differs.items())
        raise CheckpointError(f"checkpoint {path} was made with {said}; resume with the same settings")
    return net, velocity, state["epoch"], state["history"], average
