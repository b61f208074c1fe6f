"""The regression DataModule of the GGS predictor and oracle CNNs (docs/papers/ggs.md section 2.3).

Batches are `(tokens, targets)`: LongTensor (B, L) and float32 (B,). `val_size` rows are held out at
random (seeded) for validation (the released oracles held out 200; the v2 predictor code none). The
training loader either shuffles with a seeded generator or, with `weighted_sampling` (the v2 code's
default), draws len(train) rows with replacement from a WeightedRandomSampler with weights
1 / (y - min y + 1), which up-weights low fitness; its generator is seeded too (spec defect 5.6: the
reference's sampler is not). The loader's generator is created from `seed` when the loader is built
and advances from epoch to epoch, so every epoch has its own order and a run is reproducible.
"""

from __future__ import annotations

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, RandomSampler, TensorDataset, WeightedRandomSampler

from neurobolts.plugins.checks import check_int, check_positive_int


def low_fitness_weights(targets: torch.Tensor) -> torch.Tensor:
    """The v2 sampling weights 1 / (y - min y + 1) (float64): 1 at the lowest target, decreasing."""
    targets = targets.double()
    return 1.0 / (targets - targets.min() + 1.0)


def _checked_pair(tokens_name: str, tokens, targets_name: str, targets) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer tokens (n, L) and n finite targets, or a ValueError naming the argument."""
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.dtype.is_floating_point:
        shape = tuple(tokens.shape) if isinstance(tokens, torch.Tensor) else type(tokens).__name__
        raise ValueError(f"{tokens_name} must be an integer tensor (n, L), got {shape}")
    targets = torch.as_tensor(targets)
    if targets.dim() != 1 or len(targets) != len(tokens):
        raise ValueError(f"{targets_name} must be a vector with one value per sequence ({len(tokens)}), "
                         f"got shape {tuple(targets.shape)}")
    if not torch.isfinite(targets.double()).all():
        raise ValueError(f"{targets_name} must be finite, got NaN or inf values")
    return tokens, targets


class FitnessDataModule(LightningDataModule):
    """Sequences and their fitness for a regression stage (oracle, predictors).

    Args:
        tokens: LongTensor (n, L) of sequences.
        targets: (n,) fitness values (stored as float32).
        batch_size: rows per batch.
        val_size: rows held out for validation (0: no validation loop).
        weighted_sampling: sample training rows with weights 1 / (y - min y + 1) (with replacement).
        seed: seed of the validation split and of the training order.
        num_workers: DataLoader workers.
        val_tokens: an explicit validation set instead of `val_size` held-out rows (e.g. the oracle's
            200 held-out true rows while its training rows include random negatives, spec 2.3); give
            it with `val_targets` or neither, and then val_size must be 0.
        val_targets: the fitness values of `val_tokens`.
    """

    def __init__(self, tokens: torch.Tensor, targets: torch.Tensor, batch_size: int = 1024, val_size: int = 0,
                 weighted_sampling: bool = False, seed: int = 0, num_workers: int = 0,
                 val_tokens: torch.Tensor | None = None, val_targets: torch.Tensor | None = None) -> None:
        super().__init__()
        tokens, targets = _checked_pair("tokens", tokens, "targets", targets)
        n = len(tokens)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.val_size = check_int("val_size", val_size, 0, n - 1,
                                  expected=f"an integer in [0, {n - 1}] (fewer than the {n} rows)")
        if not isinstance(weighted_sampling, bool):
            raise ValueError(f"weighted_sampling must be a bool, got {weighted_sampling!r}")
        self.weighted_sampling = weighted_sampling
        self.seed = check_int("seed", seed)
        self.num_workers = check_int("num_workers", num_workers, 0)
        self.tokens = tokens.long()
        self.targets = targets.float()
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed))
        self.val_indices = order[:self.val_size].sort().values
        self.train_indices = order[self.val_size:].sort().values
        self.train_set = TensorDataset(self.tokens[self.train_indices], self.targets[self.train_indices])
        self.val_set = TensorDataset(self.tokens[self.val_indices], self.targets[self.val_indices])
        if (val_tokens is None) != (val_targets is None):
            raise ValueError("val_tokens and val_targets must be given together (or neither)")
        if val_tokens is not None:
            if self.val_size:
                raise ValueError(f"give either val_size (got {val_size}) or val_tokens/val_targets, not both")
            val_tokens, val_targets = _checked_pair("val_tokens", val_tokens, "val_targets", val_targets)
            if val_tokens.shape[1] != tokens.shape[1]:
                raise ValueError(f"val_tokens must have the training length {tokens.shape[1]}, "
                                 f"got {val_tokens.shape[1]}")
            self.val_set = TensorDataset(val_tokens.long(), val_targets.float())

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed + 1)
        if self.weighted_sampling:
            weights = low_fitness_weights(self.train_set.tensors[1])
            sampler = WeightedRandomSampler(weights, num_samples=len(self.train_set), replacement=True,
                                            generator=generator)
        else:
            sampler = RandomSampler(self.train_set, generator=generator)
        return DataLoader(self.train_set, batch_size=self.batch_size, sampler=sampler,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def val_dataloader(self) -> DataLoader | list:
        """The validation rows in order; an empty list (no validation) when there are none."""
        if len(self.val_set) == 0:
            return []
        return DataLoader(self.val_set, batch_size=self.batch_size, shuffle=False, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0)
