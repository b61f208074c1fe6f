"""InductiveBiasComplexity on your own model: a small MLP classifying three Gaussian blobs that lie
on a 2-D plane inside a 10-D input space. The callback logs the bits of inductive bias the task
needs at a 1 % target error, and at each validation the bits the model's own error corresponds to.

Runs in a few seconds on a CPU: `python docs/examples/inductive_bias_complexity_own_model.py`.
"""

import csv
import tempfile
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.callbacks import InductiveBiasComplexity


def blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 10) inputs on a 2-D plane and (n,) integer labels of 3 classes."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 0.0], [3.0, 0.0], [1.5, 2.5]])
    labels = torch.randint(0, 3, (n,), generator=generator)
    plane = centres[labels] + 0.6 * torch.randn(n, 2, generator=generator)
    basis = torch.linalg.qr(torch.randn(10, 2, generator=torch.Generator().manual_seed(0)))[0]
    return plane @ basis.T, labels  # labels: torch.int64 class indices


class Classifier(L.LightningModule):
    """Your model. It must log its validation error (or accuracy) in validation_step, on_epoch, under
    the name the callback reads: `val/error` here (`error_metric`), else 1 - `val/acc`."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx: int) -> None:
        x, y = batch
        error = (self(x).argmax(dim=1) != y).float().mean()
        self.log("val/error", error, on_step=False, on_epoch=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


class BlobsDataModule(L.LightningDataModule):
    """Batches are (inputs, labels): the callback reads inputs from batch[0] and integer class labels
    from batch[1] of the training set. Statistics the DataModule knows are declared as attributes;
    the others (here the radius and the resolution) are estimated from the training set."""

    num_classes = 3
    intrinsic_dim = 2

    def setup(self, stage: str) -> None:
        self.train_set = TensorDataset(*blobs(600, seed=1))
        self.val_set = TensorDataset(*blobs(300, seed=2))

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=50, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=300)


def main() -> None:
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as root:
        # cross_check=True: the declared intrinsic_dim is also estimated (MLE) and the two compared
        complexity = InductiveBiasComplexity(target_error=0.01, cross_check=True)
        trainer = L.Trainer(
            max_epochs=3, accelerator="cpu", devices=1, default_root_dir=root,
            logger=CSVLogger(root, name="classifier"), callbacks=[complexity],
            enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
            num_sanity_val_steps=0, log_every_n_steps=1,
        )
        trainer.fit(Classifier(), datamodule=BlobsDataModule())

        print("task statistics:", {k: v for k, v in complexity.statistics.items() if not k.endswith("_source")})
        with open(Path(trainer.logger.log_dir) / "metrics.csv") as file:
            rows = list(csv.DictReader(file))
        task = next(row for row in rows if row.get("ibc/task_bits"))
        print(f"ibc/task_bits {float(task['ibc/task_bits']):.4g} "
              f"(ibc/intrinsic_dim_rel_gap {float(task['ibc/intrinsic_dim_rel_gap']):.3f})")
        model_rows = [row for row in rows if row.get("ibc/model_bits")]
        for row in model_rows:
            print(f"epoch {row['epoch']}: ibc/model_error {float(row['ibc/model_error']):.4f}, "
                  f"ibc/model_bits {float(row['ibc/model_bits']):.4g}, "
                  f"ibc/model_bits_fraction {float(row['ibc/model_bits_fraction']):.3g}")
        assert len(model_rows) == 3 and float(task["ibc/task_bits"]) > 0
        figure = Path(trainer.logger.log_dir) / "figures" / "ibc" / "scaling.png"  # beside metrics.csv
        assert figure.is_file()
        print("figure:", figure.relative_to(root).as_posix())


if __name__ == "__main__":
    main()
