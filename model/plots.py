"""Pictures of training: learning curves and the confusion matrix (needs matplotlib)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, no screen needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit('plots need matplotlib: pip install -e ".[train]"') from None
    return plt


def _save(fig: Any, path: str | os.PathLike[str]) -> None:
    """Render to a temporary name, then rename, so a crash never leaves half a PNG."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    os.replace(tmp, target)


def plot_learning_curves(history: list[dict[str, float]], path: str | os.PathLike[str]) -> None:
    """Loss and accuracy per epoch, on the training and test sets."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax_loss.plot(epochs, [h["test_loss"] for h in history], "s-", label="test")
    ax_loss.set(xlabel="epoch", ylabel="mean cross-entropy", title="Loss", yscale="log")
    ax_acc.plot(epochs, [100 * h["train_accuracy"] for h in history], "o-", label="train")
    ax_acc.plot(epochs, [100 * h["test_accuracy"] for h in history], "s-", label="test")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, path)
    plt.close(fig)


def plot_confusion(confusion: np.ndarray, path: str | os.PathLike[str], title: str = "") -> None:
    """The 10x10 confusion matrix; the colour is a log scale so that rare mistakes show."""
    plt = _pyplot()
    from matplotlib.colors import LogNorm

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(np.maximum(confusion, 0.5), cmap="viridis", norm=LogNorm(vmin=0.5, vmax=confusion.max()))
    for (i, j), count in np.ndenumerate(confusion):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                    color="black" if count > confusion.max() ** 0.5 else "white")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted digit", ylabel="true digit", title=title)
    fig.colorbar(image, ax=ax, label="images (log scale)")
    _save(fig, path)
    plt.close(fig)
