"""LatentManifoldOrdering on your own model: a small autoencoder whose inputs are a fixed nonlinear
embedding of two known factors; the callback measures how ordered the encoder's output is with
respect to those factors before training and every 10 steps.

Runs in a few seconds on a CPU: `python docs/examples/latent_manifold_ordering_own_model.py`.
"""

import csv
import math
import tempfile
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.callbacks import LatentManifoldOrdering


def embed(factors: torch.Tensor) -> torch.Tensor:
    """(n, 2) factors in [0, 1]^2 -> (n, 16) inputs: a fixed random projection of Fourier features."""
    generator = torch.Generator().manual_seed(0)
    projection = torch.randn(8, 16, generator=generator)
    angles = math.pi * torch.cat([factors, 2 * factors], dim=1)
    return torch.cat([angles.sin(), angles.cos()], dim=1) @ projection


class Autoencoder(L.LightningModule):
    """Your model: any LightningModule. The callback only needs the dotted path of a submodule."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 4))
        self.decoder = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        (x,) = batch
        loss = nn.functional.mse_loss(self(x), x)
        self.log("train/loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


class FactorDataModule(L.LightningDataModule):
    """Training inputs, plus `probe_batch()`: the fixed probe `(inputs, factors)` the callback reads
    when it is not given `probe=`. Here the probe is a 10 x 10 grid of the two factors."""

    def setup(self, stage: str) -> None:
        generator = torch.Generator().manual_seed(1)
        self.train_inputs = embed(torch.rand(2048, 2, generator=generator))

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.train_inputs), batch_size=64, shuffle=True)

    def probe_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        grid = torch.linspace(0, 1, 10)
        factors = torch.cartesian_prod(grid, grid)  # (100, 2) ground-truth factors
        return embed(factors), factors  # inputs go to forward(), one row per factor row


def main() -> None:
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as root:
        manifold = LatentManifoldOrdering(layer="encoder", every_n_steps=10, k=5)
        trainer = L.Trainer(
            max_steps=30, accelerator="cpu", devices=1, default_root_dir=root,
            logger=CSVLogger(root, name="autoencoder"), callbacks=[manifold],
            enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
            log_every_n_steps=5,
        )
        trainer.fit(Autoencoder(), datamodule=FactorDataModule())

        # The metrics are in the CSV logger's metrics.csv, one row per measurement step.
        with open(Path(trainer.logger.log_dir) / "metrics.csv") as file:
            rows = [row for row in csv.DictReader(file) if row.get("manifold/trustworthiness")]
        for row in rows:
            print(f"step {row['step']:>2}: manifold/trustworthiness {float(row['manifold/trustworthiness']):.3f}, "
                  f"manifold/participation_ratio {float(row['manifold/participation_ratio']):.2f}, "
                  f"manifold/phase {int(float(row['manifold/phase']))}")
        assert [int(row["step"]) for row in rows] == [0, 10, 20, 30]
        # The callback keeps the same values in its state (checkpointed with the run).
        assert manifold.history["step"] == [0.0, 10.0, 20.0, 30.0]
        # Without MLflow the figures are files beside the CSV logger's own (its version folder).
        figures = sorted(Path(trainer.logger.log_dir).glob("figures/manifold/*.png"))
        print("figures:", ", ".join(p.relative_to(root).as_posix() for p in figures))
        assert [p.name for p in figures][-1] == "summary.png" and len(figures) == 5


if __name__ == "__main__":
    main()
