"""DynamicalSimilarity on your own model: a small GRU trained to integrate its two input channels;
the callback compares the GRU's dynamics on a fixed probe before training and after every epoch
with Dynamical Similarity Analysis (DSA).

Runs in a few seconds on a CPU: `python docs/examples/dynamical_similarity_own_model.py`.
"""

import csv
import tempfile
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.callbacks import DynamicalSimilarity


def integration_task(trials: int, time: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (trials, time, 2) of sparse pulses; targets (trials, time, 2): their running sums."""
    generator = torch.Generator().manual_seed(seed)
    pulses = torch.randn(trials, time, 2, generator=generator) * (torch.rand(trials, time, 2, generator=generator) < 0.2)
    return pulses, pulses.cumsum(dim=1)


class Integrator(L.LightningModule):
    """Your model: the recurrent layer is `self.rnn`; nn.GRU returns a tuple (output, h_n) and the
    callback takes `output`, the hidden states (trials, time, units) with batch_first=True."""

    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.rnn = nn.GRU(input_size=2, hidden_size=hidden, batch_first=True)
        self.readout = nn.Linear(hidden, 2)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        states, _ = self.rnn(inputs)
        return self.readout(states)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        inputs, targets = batch
        loss = nn.functional.mse_loss(self(inputs), targets)
        self.log("train/loss", loss, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


class IntegrationDataModule(L.LightningDataModule):
    """`probe_batch()` returns (inputs, targets); the callback feeds the first element, a fixed
    (trials, time, inputs) tensor, to the model's forward."""

    def setup(self, stage: str) -> None:
        self.train_set = TensorDataset(*integration_task(trials=256, time=40, seed=1))

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=32, shuffle=True)

    def probe_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        return integration_task(trials=16, time=40, seed=2)


def main() -> None:
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as root:
        similarity = DynamicalSimilarity(layer="rnn", every_n_epochs=1, n_delays=2, rank=8,
                                         score_method="angular")
        trainer = L.Trainer(
            max_epochs=3, accelerator="cpu", devices=1, default_root_dir=root,
            logger=CSVLogger(root, name="integrator"), callbacks=[similarity],
            enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
            log_every_n_steps=1,
        )
        trainer.fit(Integrator(), datamodule=IntegrationDataModule())

        # One row per epoch in the CSV logger's metrics.csv: DSA to the previous snapshot (the
        # untrained network for epoch 0) and the DMD rank.
        with open(Path(trainer.logger.log_dir) / "metrics.csv") as file:
            rows = [row for row in csv.DictReader(file) if row.get("dsa/to_previous")]
        for row in rows:
            print(f"epoch {row['epoch']}: dsa/to_previous {float(row['dsa/to_previous']):.4f} rad, "
                  f"dsa/rank {int(float(row['dsa/rank']))}")
        assert len(rows) == 3 and all(float(row["dsa/to_previous"]) > 0 for row in rows)
        # At fit end: the snapshot-by-snapshot distance matrix (snapshots 0 = untrained, 1, 2, 3) as a
        # CSV file and a figure (matrix + 2D MDS embedding), beside the CSV logger's own files.
        folder = Path(trainer.logger.log_dir) / "figures" / "dsa"
        print("files:", ", ".join(p.relative_to(root).as_posix() for p in sorted(folder.iterdir())))
        print((folder / "distances.csv").read_text().strip())
        assert (folder / "distances.png").is_file()
        assert similarity.distance_matrix.shape == (4, 4)


if __name__ == "__main__":
    main()
