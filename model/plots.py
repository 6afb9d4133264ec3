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
    """Loss and accuracy per epoch, on the training set and the held-out set scored each epoch
    (the validation split, or the test set for runs without one)."""
    plt = _pyplot()
    held = "validation" if "validation_loss" in history[0] else "test"
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", ms=3, label="train")
    ax_loss.plot(epochs, [h[f"{held}_loss"] for h in history], "s-", ms=3, label=held)
    ax_loss.set(xlabel="epoch", ylabel="mean cross-entropy", title="Loss", yscale="log")
    ax_acc.plot(epochs, [100 * h["train_accuracy"] for h in history], "o-", ms=3, label="train")
    ax_acc.plot(epochs, [100 * h[f"{held}_accuracy"] for h in history], "s-", ms=3, label=held)
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
            ax.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                fontsize=8,
                color="black" if count > confusion.max() ** 0.5 else "white",
            )
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted digit", ylabel="true digit", title=title)
    fig.colorbar(image, ax=ax, label="images (log scale)")
    _save(fig, path)
    plt.close(fig)


def plot_mistakes(
    images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, path: str | os.PathLike[str], limit: int = 60
) -> None:
    """The digits the network gets wrong, each titled "true -> guess (probability)", most confident first."""
    plt = _pyplot()
    guess = probabilities.argmax(axis=1)
    wrong = np.nonzero(guess != labels)[0]
    wrong = wrong[np.argsort(-probabilities[wrong, guess[wrong]])][:limit]
    cols = 12
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.95, rows * 1.15), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong, strict=False):
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=255 if images.dtype == np.uint8 else 1)
        ax.set_title(f"{labels[i]}→{guess[i]} ({probabilities[i, guess[i]]:.0%})", fontsize=7, color="#b00020")
    fig.suptitle(
        f"{len(np.nonzero(guess != labels)[0])} of {len(labels):,} test digits read wrong "
        f"(true→guess, calibrated probability; the {len(wrong)} most confident shown)",
        fontsize=9,
    )
    _save(fig, path)
    plt.close(fig)
