"""Checkpoints of the offline trainer: parameters, optimiser state and history in one .npz,
written atomically after every epoch, so that --resume continues exactly."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from ..architecture import PARAM_SHAPES
from ..cnn import CNN
from ..network import Params
from ..weights import atomic_write_bytes, npz_bytes
from .config import TrainConfig


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed; the message says why."""


def save_checkpoint(
    path: Path, cfg: TrainConfig, net: CNN, velocity: Params, epoch: int, history: list[dict[str, float]]
) -> None:
    state = json.dumps({"config": dataclasses.asdict(cfg), "epoch": epoch, "history": history})
    arrays = {**net.params, **{f"optimizer_{k}": v for k, v in velocity.items()}, "state": np.array(state)}
    atomic_write_bytes(path, npz_bytes(arrays))


def load_checkpoint(path: Path, cfg: TrainConfig) -> tuple[CNN, Params, int, list[dict[str, float]]]:
    try:
        with np.load(path, allow_pickle=False) as z:
            state = json.loads(z["state"].item())
            net = CNN({k: z[k] for k in PARAM_SHAPES})
            velocity = {k.removeprefix("optimizer_"): z[k] for k in z.files if k.startswith("optimizer_")}
    except (OSError, KeyError, ValueError) as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e}") from None
    differs = {k: (v, getattr(cfg, k)) for k, v in state["config"].items() if getattr(cfg, k) != v}
    if differs:
        said = ", ".join(f"{k}={was!r} (now {now!r})" for k, (was, now) in differs.items())
        raise CheckpointError(f"checkpoint {path} was made with {said}; resume with the same settings")
    return net, velocity, state["epoch"], state["history"]
