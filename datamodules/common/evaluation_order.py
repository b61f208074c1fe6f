"""Evaluation loaders whose metrics are exact under DDP.

Lightning's default distributed sampler pads a set whose size the world size does not divide by
repeating its first items, so a 49-condition set on 2 ranks is scored as 50 and its metrics count
one condition twice. `evaluation_loader` gives rank r the items `r, r + W, r + 2W, ...` without
padding (Lightning's `UnrepeatedDistributedSampler`, the sampler it uses for prediction): ranks may
hold one item more or less, so the module must reduce sums and counts (torchmetrics states), not
average per-rank means. Safe in validation and test: no gradient sync runs there, so ranks with
different numbers of batches do not wait on each other.
"""

from __future__ import annotations

import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset


def evaluation_loader(dataset: Dataset, batch_size: int | None, trainer=None, *, num_workers: int = 0,
                      pin_memory: bool = False, generator: torch.Generator | None = None,
                      collate_fn=None) -> DataLoader:
    """A sequential loader over `dataset`; under a multi-process trainer, this rank's unpadded share.
    `batch_size=None` yields the items one by one (no batching)."""
    sampler = None
    world = getattr(trainer, "world_size", 1) if trainer is not None else 1
    if world > 1:
        if len(dataset) < world:
            raise ValueError(f"an evaluation set of {len(dataset)} items cannot be shared out over {world} "
                             f"processes (every process needs at least one item)")
        sampler = UnrepeatedDistributedSampler(dataset, num_replicas=world, rank=trainer.global_rank,
                                               shuffle=False)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                      pin_memory=pin_memory, persistent_workers=num_workers > 0, generator=generator,
                      collate_fn=collate_fn)


class EpisodeSet(Dataset):
    """A list of episode records (dicts), one item per episode (FARMap, Map Induction)."""

    def __init__(self, episodes: list[dict]) -> None:
        self.episodes = episodes

    def __len__(self) -> int:
        return len(self.episodes)

    def __getitem__(self, index: int) -> dict:
        return self.episodes[index]
