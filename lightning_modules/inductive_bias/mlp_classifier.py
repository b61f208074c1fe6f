"""A small MLP classifier for flat inputs (used by `experiment=ibc_tasks`).

Batches are `(x, y)` with x (B, ...) flattened to (B, input_dim) and integer labels y (B,).
Logged: `train/loss`; `val/loss`, `val/acc`, `val/error` (in validation_step, epoch means weighted
by batch size, so callbacks see them at validation-epoch end); `test/loss`, `test/acc`, `test/error`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from lightning.pytorch import LightningModule
from torch import nn
from torch.nn import functional as F

from neurobolts.lightning_modules.common.optim import build_optimizers
from neurobolts.plugins.checks import check_int, check_positive_int


def mlp(input_dim: int, hidden_dims: Sequence[int], output_dim: int) -> nn.Sequential:
    """Linear -> ReLU blocks ending in a linear read-out."""
    layers: list[nn.Module] = []
    width = input_dim
    for h in hidden_dims:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, output_dim))
    return nn.Sequential(*layers)


class MLPClassifier(LightningModule):
    """Cross-entropy classifier with an MLP.

    Args:
        input_dim: number of input features (inputs are flattened).
        num_classes: number of classes.
        hidden_dims: widths of the hidden layers.
        optimizer: a partial optimizer taking the parameters (Hydra `_partial_: true`).
        scheduler: optional partial LR scheduler taking the optimizer (stepped every step).
    """

    def __init__(
        self,
        input_dim: int,
        num_classes: int,
        optimizer: Callable,
        hidden_dims: Sequence[int] = (128, 128),
        scheduler: Callable | None = None,
    ) -> None:
        super().__init__()
        check_positive_int("input_dim", input_dim)
        check_int("num_classes", num_classes, 2)
        hidden_dims = list(hidden_dims)
        for i, width in enumerate(hidden_dims):
            check_positive_int(f"hidden_dims[{i}]", width)
        self.save_hyperparameters(ignore=["optimizer", "scheduler"], logger=False)
        self.net = mlp(input_dim, hidden_dims, num_classes)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(x.shape[0], -1).float())

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train/loss", loss, on_step=True, on_epoch=False, prog_bar=True, sync_dist=self.trainer.world_size > 1)
        return loss

    def _evaluate(self, batch, stage: str) -> None:
        x, y = batch
        logits = self(x)
        acc = (logits.argmax(dim=1) == y).float().mean()
        kwargs = {"on_step": False, "on_epoch": True, "batch_size": len(y), "sync_dist": True}
        self.log(f"{stage}/loss", F.cross_entropy(logits, y), **kwargs)
        self.log(f"{stage}/acc", acc, prog_bar=stage == "val", **kwargs)
        self.log(f"{stage}/error", 1.0 - acc, **kwargs)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def configure_optimizers(self):
        return build_optimizers(self.parameters(), self.optimizer_factory, self.scheduler_factory)
