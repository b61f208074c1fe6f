"""A minimal LightningDataModule: noisy samples of y = sin(x) on [-pi, pi]."""

from __future__ import annotations

import math

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.plugins.checks import check_number, check_positive_int


class NoisySineDataModule(LightningDataModule):
    """Args:
    n_train, n_val, n_test: samples per split.
    noise: standard deviation of the Gaussian noise on y.
    batch_size: samples per batch.
    num_workers, pin_memory: DataLoader options (neurobolts' debug configs set them).
    seed: seed of the samples.
    """

    def __init__(self, n_train: int = 512, n_val: int = 128, n_test: int = 128, noise: float = 0.1,
                 batch_size: int = 64, num_workers: int = 0, pin_memory: bool = False, seed: int = 0) -> None:
        super().__init__()
        for name, value in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test), ("batch_size", batch_size)):
            check_positive_int(name, value)
        check_number("noise", noise, 0)
        self.save_hyperparameters(logger=False)
        self.splits: dict[str, TensorDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        hp = self.hparams
        generator = torch.Generator().manual_seed(hp.seed)
        for name, size in (("train", hp.n_train), ("val", hp.n_val), ("test", hp.n_test)):
            x = (torch.rand(size, 1, generator=generator) * 2 - 1) * math.pi
            y = torch.sin(x) + hp.noise * torch.randn(size, 1, generator=generator)
            self.splits[name] = TensorDataset(x, y)

    def _loader(self, name: str, shuffle: bool = False) -> DataLoader:
        return DataLoader(self.splits[name], batch_size=self.hparams.batch_size, shuffle=shuffle,
                          num_workers=self.hparams.num_workers, pin_memory=self.hparams.pin_memory)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
