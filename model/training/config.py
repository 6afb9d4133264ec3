"""The offline trainer's settings, in one frozen record: what the command line sets, what the
checkpoint and the metadata record."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 15
    batch_size: int = 32
    lr: float = 0.05  # eta at the start; it follows a half cosine down to 0
    momentum: float = 0.9  # for Adam: beta1
    seed: int = 0
    limit: int | None = None  # train on the first `limit` images only (quick runs)
    optimizer: str = "momentum"  # one of optimizers.OPTIMIZERS
    augment: bool = False
    validation: int = 0  # images held out of the training set for validation and calibration
    clean_epochs: int = 0  # with augment: the last epochs train on the digits as they are
