"""Episodes for `experiment=map_induction` (docs/papers/map_induction.md sections 3, 4 and 6).

An episode is one (world, seed) pair. Worlds are generated worlds by name (`cpu_worlds()`:
`repeated_2x2`, `repeated_1x4`, `repeated_2x2_reflected`, `control_2x2`; `paper_worlds()`:
`repeated_3x3`, `repeated_2x4`, `repeated_3x3_reflected`, `control_3x3`) and/or maps of the character
grid format (spec 2.1) read from user-given paths (`world_files`; each one's `<stem>_rooms` file beside
it is used when present). Everything random in an episode comes from its seed, so every agent runs on
exactly the same episodes on any number of processes. Nothing is trained: the test (and validation)
loader yields one episode per batch, shared out over DDP ranks without padding (`evaluation_loader`),
so every episode runs once; the batch is {"world": WorldCarrier (its `.world` is the
MapInductionWorld, plain numpy arrays, nothing to move to a device), "world_index", "seed", "episode"}.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from neurobolts.datamodules.common.evaluation_order import EpisodeSet, evaluation_loader
from neurobolts.plugins.checks import is_integer

from .grid_format import read_grid
from .worlds import MapInductionWorld, cpu_worlds, paper_worlds


def generated_worlds() -> dict[str, MapInductionWorld]:
    """The generated worlds by name: the CPU worlds (spec 6: three repeated-room worlds and a
    non-repeating control) and the larger ones of the paper-scale variant."""
    return {world.name: world for world in (*cpu_worlds(), *paper_worlds())}


class MapInductionEpisodesDataModule(LightningDataModule):
    """Every world of `worlds` (+ `world_files`) with every seed of `seeds`.

    Args:
        worlds: names of generated CPU worlds (`generated_worlds()`), in order; [] for files only.
        seeds: episode seeds.
        world_files: paths of maps in the character grid format (spec 2.1), e.g. the paper's test1-test12
            (not redistributed: give your own copy's paths).
    """

    def __init__(self, worlds: Sequence[str] = ("repeated_2x2", "repeated_1x4", "repeated_2x2_reflected",
                                                "control_2x2"),
                 seeds: Sequence[int] = tuple(range(10)), world_files: Sequence[str] | None = None) -> None:
        super().__init__()
        available = generated_worlds()
        if isinstance(worlds, str) or not isinstance(worlds, Sequence):
            raise ValueError(f"worlds must be a list of names from {tuple(available)}, got {worlds!r}")
        for name in worlds:
            if name not in available:
                raise ValueError(f"worlds must be a list of names from {tuple(available)}, got {name!r}")
        if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds \
                or not all(is_integer(s) for s in seeds):
            raise ValueError(f"seeds must be a non-empty list of integer seeds, got {seeds!r}")
        files = [] if world_files is None else [os.fspath(f) for f in world_files]
        self.worlds = [available[name] for name in worlds] + [read_grid(path) for path in files]
        if not self.worlds:
            raise ValueError("worlds and world_files are both empty: give at least one world")
        self.seeds = [int(s) for s in seeds]
        self.episodes: EpisodeSet | None = None

    @property
    def world_names(self) -> list[str]:
        return [world.name for world in self.worlds]

    def setup(self, stage: str | None = None) -> None:
        if self.episodes is None:
            self.episodes = EpisodeSet([{"world": world, "world_index": w, "seed": seed, "episode": e}
                                        for e, (w, world, seed) in enumerate(
                                            (w, world, seed) for w, world in enumerate(self.worlds)
                                            for seed in self.seeds)])

    def _loader(self) -> DataLoader:
        self.setup()
        return evaluation_loader(self.episodes, None, self.trainer, collate_fn=_as_batch)

    def test_dataloader(self) -> DataLoader:
        return self._loader()

    def val_dataloader(self) -> DataLoader:
        return self._loader()


class WorldCarrier:
    """Carries a world through Lightning's batch transfer unchanged (a frozen dataclass inside a batch
    is refused by it; a plain object is passed through): `batch["world"].world`."""

    __slots__ = ("world",)

    def __init__(self, world: MapInductionWorld) -> None:
        self.world = world


def _as_batch(item: dict) -> dict:
    return {"world": WorldCarrier(item["world"]),
            **{key: torch.tensor(item[key]) for key in ("world_index", "seed", "episode")}}
