"""Training order that does not depend on the number of processes, and survives a restart.

`GlobalBatchSampler` permutes the training set once per epoch from `seed + epoch` (as
`DistributedSampler` does; not from the global RNG, which code running on rank zero only may have
advanced), identically on every rank, and gives rank r the positions `r, r + W, r + 2W, ...`: with a
per-device batch of B / W, the union of the ranks' k-th batches is the single-process k-th batch of
size B. With a mean loss and DDP's gradient averaging, a step then sees the same global batch
whatever the world size.

`ResumableDataLoader` implements Lightning's stateful-loader protocol (`state_dict` /
`load_state_dict`): a checkpoint stores the number of batches of the current epoch the training loop
has consumed (read from the trainer, not from the iterator, which runs one batch ahead of the loop),
so a run resumed mid-epoch continues with the next batch of the same permutation instead of
restarting the epoch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import NamedTuple

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from neurobolts.plugins.checks import check_positive_int


class GlobalBatchSampler(DistributedSampler):
    """This rank's share of a single-process random order (see the module docstring).

    A `DistributedSampler` subclass so that Lightning keeps it instead of inserting its own.

    Args:
        dataset: the training set.
        global_batch_size: B, the batch of one optimizer step summed over ranks.
        world_size, rank: W and this process's global rank.
        drop_last: drop the last incomplete global batch (then every rank has the same number of
            batches); otherwise the order is padded by repetition to a multiple of W.
        seed: base seed of the permutations (default: the seed of `lightning.seed_everything`).
        consumed_batches: a callable giving how many batches of the current epoch the training loop
            has processed (for checkpoints); None when the sampler is used outside a trainer.
    """

    def __init__(self, dataset: Dataset, global_batch_size: int, world_size: int = 1, rank: int = 0,
                 drop_last: bool = True, seed: int | None = None,
                 consumed_batches: Callable[[], int] | None = None) -> None:
        check_positive_int("global_batch_size", global_batch_size)
        if global_batch_size % world_size != 0:
            raise ValueError(f"global_batch_size={global_batch_size} is not divisible by the world size {world_size}")
        if drop_last and len(dataset) < global_batch_size:
            raise ValueError(f"the training set has {len(dataset)} samples, fewer than one global batch "
                             f"({global_batch_size}); lower data.batch_size")
        if seed is None:
            seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
        super().__init__(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=drop_last)
        self.global_batch_size = global_batch_size
        self.local_batch_size = global_batch_size // world_size
        self.consumed_batches = consumed_batches
        self._resume: tuple[int, int] | None = None  # (epoch, batches to skip) for that epoch only

    @property
    def resuming(self) -> bool:
        """True until the resumed (interrupted) epoch's iterator has started."""
        return self._resume is not None

    def _used_length(self) -> int:
        n = len(self.dataset)
        if self.drop_last:
            return n // self.global_batch_size * self.global_batch_size
        return -(-n // self.num_replicas) * self.num_replicas

    def __len__(self) -> int:
        return self._used_length() // self.num_replicas

    def __iter__(self) -> Iterator[int]:
        skip = 0
        if self._resume is not None:
            epoch, skip = self._resume
            self._resume = None
            if epoch != self.epoch:  # the checkpoint ended its epoch: nothing to skip in this one
                skip = 0
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.dataset), generator=generator).tolist()
        used = self._used_length()
        if used > len(order):
            order += order[: used - len(order)]
        mine = order[:used][self.rank :: self.num_replicas]
        return iter(mine[skip * self.local_batch_size :])

    def state_dict(self) -> dict[str, int]:
        consumed = int(self.consumed_batches()) if self.consumed_batches is not None else 0
        return {"epoch": self.epoch, "consumed_batches": consumed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        epoch, consumed = int(state["epoch"]), int(state["consumed_batches"])
        if 0 < consumed < len(self) // self.local_batch_size:
            self._resume = (epoch, consumed)


class ResumableDataLoader(DataLoader):
    """A DataLoader whose `GlobalBatchSampler` position is saved in Lightning checkpoints.

    Re-creating the iterator of an interrupted epoch draws nothing from the global RNG (a fresh
    iterator draws its worker base seed there): the uninterrupted run created that iterator long
    before, so a resumed run must not consume randomness here (see callbacks/reliability/resume_state.py).
    """

    def __iter__(self):
        if getattr(self.sampler, "resuming", False):
            state = torch.get_rng_state()
            try:
                return super().__iter__()
            finally:
                torch.set_rng_state(state)
        return super().__iter__()

    def state_dict(self) -> dict[str, int]:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.load_state_dict(state)


def training_loader(dataset: Dataset, global_batch_size: int, trainer=None, drop_last: bool = True,
                    **loader_kwargs) -> ResumableDataLoader:
    """The training DataLoader of a DataModule: global order, per-device batch, resumable.

    `trainer` (the DataModule's `self.trainer`, may be None) gives the world size, the rank and the
    training progress; `loader_kwargs` go to the DataLoader (num_workers, pin_memory, ...).
    """
    world_size, rank, consumed = 1, 0, None
    if trainer is not None:
        world_size, rank = trainer.world_size, trainer.global_rank

        def consumed() -> int:
            return trainer.fit_loop.epoch_loop.batch_progress.current.processed

    sampler = GlobalBatchSampler(dataset, global_batch_size, world_size, rank, drop_last, consumed_batches=consumed)
    loader_kwargs.setdefault("persistent_workers", loader_kwargs.get("num_workers", 0) > 0)
    return ResumableDataLoader(dataset, batch_size=sampler.local_batch_size, sampler=sampler,
                               drop_last=drop_last, **loader_kwargs)


class RankShare(NamedTuple):
    """`size` processes; `share` indexes this rank's positions in a global-batch tensor."""

    size: int
    share: slice


def global_batch_share(trainer=None) -> RankShare:
    """Which positions of a global batch this rank holds under `GlobalBatchSampler`.

    Draw per-sample randomness for the whole global batch (identical on every rank) and index it
    with `share`: the draws then do not depend on the number of processes.
    """
    if trainer is None:
        return RankShare(1, slice(None))
    return RankShare(trainer.world_size, slice(trainer.global_rank, None, trainer.world_size))
