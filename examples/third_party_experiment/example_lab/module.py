"""A minimal LightningModule: an MLP regressing y = sin(x) from noisy samples."""

from __future__ import annotations

import logging

import torch
from lightning.pytorch import LightningModule
from torch import nn
from torch.nn import functional as F

from neurobolts.plugins.checks import check_positive, check_positive_int

log = logging.getLogger(__name__)


class SineRegressor(LightningModule):
    """Args:
    hidden: width of the hidden layer.
    lr: Adam learning rate.
    """

    def __init__(self, hidden: int = 32, lr: float = 1e-2) -> None:
        super().__init__()
        check_positive_int("hidden", hidden)  # neurobolts' argument checks: errors name the field
        check_positive("lr", lr)
        self.save_hyperparameters(logger=False)
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def on_train_start(self) -> None:
        log.info("example_lab: SineRegressor with %d hidden units starts training", self.hparams.hidden)

    def _loss(self, batch) -> torch.Tensor:
        x, y = batch
        return F.mse_loss(self(x), y)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        self.log("val/loss", self._loss(batch))

    def test_step(self, batch, batch_idx: int) -> None:
        self.log("test/loss", self._loss(batch))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
