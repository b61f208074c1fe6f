"""DataModule of corrupted cues for associative memories (expander_hopfield spec, sections 3-4).

Batches are `(messages, flips)`, both (B, N): `messages` are uniform 0/1 vectors from which the
memory picks one of its stored states (`memory.stored_states(messages)`: a uniform random codeword of
the expander network, a random pattern of the Hopfield network), `flips` are bool masks with exactly
floor(p N) True entries. The cue is the stored state with those bits flipped.

- train: `verify_states` clean stored states (no flips); the fit stage checks they are fixed points.
- val: `val_cues` cues at flip fraction p (monitored for the checkpoint).
- test: `test_cues` cues at flip fraction p (the recall measurement, `test/exact_recall`).

Every split is drawn once from its own seeded generator, so it does not depend on batching or ranks.
"""

from __future__ import annotations

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, TensorDataset

from neurobolts.datamodules.expander_hopfield.bit_flips import flip_count, flip_masks, random_messages
from neurobolts.plugins.checks import check_int, check_positive_int

_SPLITS = {"train": 0, "val": 1, "test": 2}


class CorruptedCuesDataModule(LightningDataModule):
    """Corrupted cues for an associative memory: batches of (messages, flips).

    Args:
        n_neurons: N, the memory's number of neurons (the length of messages and masks).
        flip_fraction: p, the fraction of bits flipped in every val/test cue (floor(p N) bits).
        verify_states: clean stored states checked during fit.
        val_cues, test_cues: number of cues (trials) in the val and test splits.
        batch_size: cues per batch.
        num_workers, pin_memory: DataLoader options.
        seed: seed of the messages and flips.
    """

    def __init__(
        self,
        n_neurons: int = 600,
        flip_fraction: float = 0.02,
        verify_states: int = 20,
        val_cues: int = 100,
        test_cues: int = 400,
        batch_size: int = 500,
        num_workers: int = 0,
        pin_memory: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        check_positive_int("n_neurons", n_neurons)
        flip_count(n_neurons, flip_fraction)  # validates flip_fraction
        for name, value in (("verify_states", verify_states), ("val_cues", val_cues),
                            ("test_cues", test_cues), ("batch_size", batch_size)):
            check_positive_int(name, value)
        check_int("seed", seed)
        self.save_hyperparameters(logger=False)
        self.n_neurons = n_neurons
        self.flip_fraction = float(flip_fraction)
        self.sizes = {"train": verify_states, "val": val_cues, "test": test_cues}
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.seed = seed
        self.datasets: dict[str, TensorDataset] = {}

    @property
    def flips_per_cue(self) -> int:
        return flip_count(self.n_neurons, self.flip_fraction)

    def split(self, name: str) -> TensorDataset:
        """The (messages, flips) of one split, drawn from a generator seeded by (seed, split)."""
        if name not in self.datasets:
            generator = torch.Generator().manual_seed(self.seed * len(_SPLITS) + _SPLITS[name])
            size = self.sizes[name]
            messages = random_messages(size, self.n_neurons, generator)
            p = 0.0 if name == "train" else self.flip_fraction
            self.datasets[name] = TensorDataset(messages, flip_masks(size, self.n_neurons, p, generator))
        return self.datasets[name]

    def setup(self, stage: str | None = None) -> None:
        for name in _SPLITS:
            self.split(name)

    def _loader(self, name: str) -> DataLoader:
        return DataLoader(self.split(name), batch_size=self.batch_size, shuffle=False,
                          num_workers=self.num_workers, pin_memory=self.pin_memory,
                          persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
