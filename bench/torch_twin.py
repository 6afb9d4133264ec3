"""The article's network in PyTorch, holding the same parameters as ours: the reference we race.

Never imported by the project itself: PyTorch is an optional benchmark dependency
(`pip install -e ".[bench]"`, which pins torch==2.13.0, the CPU build on these machines).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from model.network import Params


class TorchTwin:
    """conv 6x5x5 + ReLU -> max-pool -> conv 12x6x5x5 + ReLU -> max-pool -> dense 10 + softmax."""

    def __init__(self, params: Params, lr: float = 0.01, momentum: float = 0.9) -> None:
        shapes = {"k1": (6, 1, 5, 5)}  # PyTorch keeps an explicit input-channel axis on k1
        self.params = {
            name: torch.tensor(np.array(value).reshape(shapes.get(name, value.shape)), requires_grad=True)
            for name, value in params.items()
        }
        # PyTorch's momentum SGD (v <- mu v + g; p <- p - lr v) equals ours for a constant learning rate.
        self.optimizer = torch.optim.SGD(self.params.values(), lr=lr, momentum=momentum)

    def scores(self, images: torch.Tensor) -> torch.Tensor:
        p = self.params
        P1 = F.max_pool2d(F.relu(F.conv2d(images[:, None], p["k1"], p["b1"])), 2)
        P2 = F.max_pool2d(F.relu(F.conv2d(P1, p["k2"], p["b2"])), 2)
        return F.linear(P2.flatten(1), p["w"], p["b"])

    def predict_proba(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.scores(images).softmax(dim=1)

    def train_step(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        """Forward, backward and update: what one step of model.train does."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.scores(images), labels)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def gradients(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, np.ndarray]:
        for value in self.params.values():
            value.grad = None
        F.cross_entropy(self.scores(images), labels).backward()
        return {
            name: value.grad.numpy().reshape(value.shape if name != "k1" else (6, 5, 5))
            for name, value in self.params.items()
        }
