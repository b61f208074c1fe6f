"""Episodes for `experiment=farmap` (docs/papers/farmap.md sections 3, 6).

An episode is one (map, seed) pair: the map's wall grid coloured (one class id per wall cell, the ids
permuted per episode: the reference's random colourisation), scaled x`scale`, and a start pose drawn
uniformly among the free cells with a random heading. Everything random in an episode comes from
`numpy.random.default_rng([seed, map_id])`, so every agent runs on exactly the same episodes, on any
number of processes. Nothing is trained: the test (and validation) loader yields one episode per
batch, shared out over DDP ranks without padding (`evaluation_loader`), so every episode is run
once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from neurobolts.datamodules.common.evaluation_order import EpisodeSet, evaluation_loader
from neurobolts.datamodules.gridworld.maps import NUM_REFERENCE_MAPS, load_maps_file, reference_map
from neurobolts.datamodules.gridworld.world import GridWorld
from neurobolts.plugins.checks import check_fraction, check_int, check_positive_int, is_integer


def episode_rng(map_id: int, seed: int) -> np.random.Generator:
    """The random stream of episode (map_id, seed): colours, start pose and the agents' draws."""
    return np.random.default_rng([int(seed), int(map_id)])


def _id_list(name: str, values, expected: str) -> list[int]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values \
            or not all(is_integer(v) for v in values):
        raise ValueError(f"{name} must be {expected}, got {values!r}")
    return [int(v) for v in values]


class FarMapEpisodesDataModule(LightningDataModule):
    """Episodes of the FARMap comparison: every map of `map_ids` with every seed of `seeds`.

    Args:
        map_ids: ids of the maps to explore (the 300 reference maps shipped with the package, or the
            maps of `maps_file`); "all" for every map.
        seeds: episode seeds; each gives its own colours and start pose.
        num_steps: agent steps per episode (the reference's budget is 5,000).
        maps_file: optional .npz of the user's own maps in the reference format
            (`neurobolts.datamodules.gridworld.maps`); null: the packaged reference maps.
        scale: nearest-neighbour up-scaling of the maps (the reference: 3).
        view_size, fov_ratio: the egocentric view (15 x 15, cone ratio 0.25).
        start: optional fixed start pose [row, col, heading] (scaled map coordinates) used by every
            episode instead of a random one; it must be a free cell of every map.
        random_colours: permute the wall colours per episode (the reference's default for its 5 seeds).
    """

    def __init__(self, map_ids: Sequence[int] | str = tuple(range(150, 160)), seeds: Sequence[int] = (0, 1),
                 num_steps: int = 2000, maps_file: str | None = None, scale: int = 3, view_size: int = 15,
                 fov_ratio: float = 0.25, start: Sequence[int] | None = None, random_colours: bool = True) -> None:
        super().__init__()
        self.maps_file = None if maps_file is None else os.fspath(maps_file)
        self._user_maps = None if self.maps_file is None else load_maps_file(self.maps_file)
        n_maps = NUM_REFERENCE_MAPS if self._user_maps is None else len(self._user_maps)
        if map_ids == "all":
            map_ids = list(range(n_maps))
        expected = f"a non-empty list of map ids in [0, {n_maps - 1}] or 'all'"
        self.map_ids = _id_list("map_ids", map_ids, expected)
        bad = [m for m in self.map_ids if not 0 <= m < n_maps]
        if bad:
            source = "the packaged reference maps" if self._user_maps is None else self.maps_file
            raise ValueError(f"map_ids must be {expected} ({source} hold {n_maps} maps), got {bad[0]!r}")
        self.seeds = _id_list("seeds", seeds, "a non-empty list of integer seeds")
        self.num_steps = check_positive_int("num_steps", num_steps)
        self.scale = check_positive_int("scale", scale)
        self.view_size = check_int("view_size", view_size, 3)
        self.fov_ratio = check_fraction("fov_ratio", fov_ratio)
        if start is not None:
            start = _id_list("start", start, "[row, col, heading] (integers) or None")
            if len(start) != 3:
                raise ValueError(f"start must be [row, col, heading] (integers) or None, got {start!r}")
            for map_id in self.map_ids:  # every episode starts there: check it now, on the unscaled grid
                wall = self.wall_grid(map_id)
                r, c, h = start
                inside = 0 <= r < wall.shape[0] * self.scale and 0 <= c < wall.shape[1] * self.scale
                if not inside or wall[r // self.scale, c // self.scale] or h not in range(4):
                    where = "outside the map" if not inside else "a wall cell" if wall[r // self.scale, c // self.scale] \
                        else "heading not in 0..3"
                    raise ValueError(f"start must be a free cell [row, col] of every map (scaled x{self.scale}) and a "
                                     f"heading in 0..3, got {start!r}: {where} of map {map_id}")
        self.start = start
        self.random_colours = bool(random_colours)
        self.episodes: EpisodeSet | None = None

    def wall_grid(self, map_id: int) -> np.ndarray:
        return reference_map(map_id) if self._user_maps is None else self._user_maps[map_id].copy()

    def world(self, map_id: int, seed: int) -> tuple[GridWorld, tuple[int, int, int]]:
        """The coloured, scaled world of episode (map_id, seed) and its start pose."""
        rng = episode_rng(map_id, seed)
        world = GridWorld.from_wall_grid(self.wall_grid(map_id), self.scale, rng if self.random_colours else None,
                                         view_size=self.view_size, fov_ratio=self.fov_ratio)
        if self.start is None:
            start = world.random_start(rng)
        else:
            start = world.check_pose(*self.start, name=f"start (map {map_id})")
        return world, start

    def setup(self, stage: str | None = None) -> None:
        if self.episodes is not None:
            return
        episodes = []
        for map_id in self.map_ids:
            for seed in self.seeds:
                world, start = self.world(map_id, seed)
                episodes.append({"map_id": map_id, "seed": seed, "episode": len(episodes), "classes": world.classes,
                                 "start": np.array(start, dtype=np.int64), "num_steps": self.num_steps,
                                 "view_size": self.view_size, "fov_ratio": self.fov_ratio})
        self.episodes = EpisodeSet(episodes)

    def _loader(self) -> DataLoader:
        self.setup()
        return evaluation_loader(self.episodes, None, self.trainer, collate_fn=_as_tensors)

    def test_dataloader(self) -> DataLoader:
        return self._loader()

    def val_dataloader(self) -> DataLoader:
        return self._loader()


def _as_tensors(item: dict) -> dict:
    """One episode as a batch: numpy arrays -> tensors (Lightning moves them to the device)."""
    return {key: torch.as_tensor(np.array(value)) for key, value in item.items()}  # a copy: the grids are read-only
