"""The 3-bit flip-flop task (Sussillo & Barak 2013; DSA case 1, docs/papers/dsa.md 4) and its DataModule.

Each of `n_bits` input channels receives sparse +1/-1 pulses; the matching output must hold the sign of
the most recent pulse on its channel. Every sequence starts with a pulse on every channel, so the target
is always defined. Batches are `(inputs, targets)`, both (batch, time, n_bits).
"""

from __future__ import annotations

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.datamodules.common.global_batch_order import training_loader
from neurobolts.plugins.checks import check_fraction, check_positive_int


def flip_flop_sequences(n_sequences: int, steps: int, n_bits: int = 3, pulse_probability: float = 0.05,
                        seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) of shape (n_sequences, steps, n_bits) from a seeded generator."""
    for name, value in (("n_sequences", n_sequences), ("steps", steps), ("n_bits", n_bits)):
        check_positive_int(name, value)
    check_fraction("pulse_probability", pulse_probability, low_open=True, high_open=True)
    g = torch.Generator().manual_seed(int(seed))
    pulses = torch.rand(n_sequences, steps, n_bits, generator=g) < pulse_probability
    pulses[:, 0] = True
    signs = torch.where(torch.rand(n_sequences, steps, n_bits, generator=g) < 0.5, -1.0, 1.0)
    inputs = pulses * signs
    # the target holds the last pulse's sign: index of the latest pulse so far, per channel
    time = torch.arange(steps)[None, :, None].expand_as(inputs)
    last = torch.where(pulses, time, torch.zeros_like(time)).cummax(dim=1).values
    targets = torch.gather(inputs, 1, last)
    return inputs, targets


class FlipFlopDataModule(LightningDataModule):
    """Sequences of the n-bit flip-flop task.

    Args:
        n_train: training sequences.
        n_val: validation sequences.
        steps: time steps per sequence.
        n_bits: input channels = output bits.
        pulse_probability: chance of a pulse per channel and step.
        batch_size: global batch size (divided by the world size under DDP).
        n_probe: fixed probe sequences for analyses (`probe_batch()`).
        seed: seed of the sequences.
        num_workers: DataLoader workers.
    """

    def __init__(self, n_train: int = 2048, n_val: int = 256, steps: int = 100, n_bits: int = 3,
                 pulse_probability: float = 0.05, batch_size: int = 64, n_probe: int = 32, seed: int = 0,
                 num_workers: int = 0) -> None:
        super().__init__()
        for name, value in (("n_train", n_train), ("n_val", n_val), ("batch_size", batch_size), ("n_probe", n_probe)):
            check_positive_int(name, value)
        flip_flop_sequences(1, steps, n_bits, pulse_probability)  # validate the task arguments now
        self.save_hyperparameters(logger=False)
        self.train_set = self.val_set = None

    def setup(self, stage: str | None = None) -> None:
        hp = self.hparams
        if self.trainer is not None:
            if hp.batch_size % self.trainer.world_size != 0:
                raise ValueError(f"data.batch_size={hp.batch_size} is not divisible by the world size "
                                 f"{self.trainer.world_size}")
        if self.train_set is None:
            common = dict(steps=hp.steps, n_bits=hp.n_bits, pulse_probability=hp.pulse_probability)
            self.train_set = TensorDataset(*flip_flop_sequences(hp.n_train, seed=hp.seed, **common))
            self.val_set = TensorDataset(*flip_flop_sequences(hp.n_val, seed=hp.seed + 1_000_003, **common))

    def train_dataloader(self) -> DataLoader:
        return training_loader(self.train_set, self.hparams.batch_size, self.trainer,
                               num_workers=self.hparams.num_workers)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.hparams.batch_size, num_workers=self.hparams.num_workers)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

    def probe_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Fixed probe (inputs, targets), the same for every seed of the data: for comparing networks."""
        hp = self.hparams
        return flip_flop_sequences(hp.n_probe, hp.steps, hp.n_bits, hp.pulse_probability, seed=987_654)
