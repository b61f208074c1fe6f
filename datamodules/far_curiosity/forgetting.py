"""The stream of the forgetting study, `experiment=far_curiosity_forgetting` (docs/papers/far_curiosity.md
section 6A): the observations of a scripted walk (room A, through the door to room B, optionally back)
in order, plus the probes the study measures on (every observation of a room, of every free cell).

The training loader yields the walk in consecutive chunks of `chunk` steps, in walk order, never
shuffled: the learner sees the rooms one after the other, which is what makes a predictor forget.
Each chunk is a dict of tensors: "obs" float32 (K, D) (the (2r + 1)^2 x 3 crop, flattened, scaled to
[0, 1]), "cell" int64 (K, 2), "room" int64 (K,) (-1 on a door), "phase" int64 (K,), "step" int64 (K,)
(the index in the walk), "transit" bool (K,) (steps on the way into the phase's room).

A single-stream study: it is meant for one process. Under DDP every rank gets the SAME walk (the
loader is an IterableDataset, so Lightning injects no DistributedSampler that would split it), i.e.
each rank runs the same stream; nothing is split across ranks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, IterableDataset

from neurobolts.datamodules.gridworld.shortest_path import multi_source_distances
from neurobolts.plugins.checks import check_fraction, check_int, check_positive_int, is_integer

from .environments import ROOM_MAPS
from .forgetting_walk import phase_rooms, scripted_walk
from .rooms_env import RoomsEnv


class WalkChunks(IterableDataset):
    """The walk as consecutive chunks of `chunk` steps (the last may be shorter), in order."""

    def __init__(self, arrays: dict[str, torch.Tensor], chunk: int) -> None:
        self.arrays = arrays
        self.chunk = chunk
        self.length = len(next(iter(arrays.values())))

    def __len__(self) -> int:
        return -(-self.length // self.chunk)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for start in range(0, self.length, self.chunk):
            yield {key: value[start:start + self.chunk] for key, value in self.arrays.items()}


class ForgettingWalkDataModule(LightningDataModule):
    """Observations of the scripted room walk, in order (module docstring).

    Args:
        env: a rooms map: "rooms2" (two 9 x 9 rooms, the study's map), "rooms4" or "rooms9".
        phases: room letters visited in turn, "A" = room 0 ("A", "B", "A" goes back).
        steps_per_phase: random-walk steps inside each phase's room (forgetting_walk.py).
        chunk: steps per training batch.
        view_radius: r of the (2r + 1) x (2r + 1) RGB crop.
        similarity: room similarity in [0, 1] (0 distinct textures, 1 identical rooms).
        texture_seed: the room textures.
        seed: the walk.
    """

    def __init__(self, env: str = "rooms2", phases: Sequence[str] = ("A", "B"), steps_per_phase: int = 2000,
                 chunk: int = 100, view_radius: int = 3, similarity: float = 0.0, texture_seed: int = 0,
                 seed: int = 0) -> None:
        super().__init__()
        if env not in ROOM_MAPS:
            choices = ", ".join(repr(name) for name in ROOM_MAPS)
            raise ValueError(f"env must be one of {choices} (the forgetting walk needs a rooms map), got {env!r}")
        self.env_name = env
        layout = ROOM_MAPS[env]
        self.phases = list(phases) if not isinstance(phases, str) else phases
        phase_rooms(self.phases, layout["rows"] * layout["cols"])
        self.steps_per_phase = check_positive_int("steps_per_phase", steps_per_phase)
        self.chunk = check_positive_int("chunk", chunk)
        self.view_radius = check_int("view_radius", view_radius, 0)
        self.similarity = check_fraction("similarity", similarity)
        if not is_integer(texture_seed):
            raise ValueError(f"texture_seed must be an integer, got {texture_seed!r}")
        self.texture_seed = int(texture_seed)
        self.seed = check_int("seed", seed, 0)
        self.env: RoomsEnv | None = None
        self.walk: dict[str, np.ndarray] | None = None
        self._obs_table: np.ndarray | None = None
        self._door_distances: np.ndarray | None = None

    @property
    def obs_dim(self) -> int:
        """D, the length of a flattened observation."""
        return (2 * self.view_radius + 1) ** 2 * 3

    @property
    def num_steps(self) -> int:
        """T, the number of steps of the walk (transits included)."""
        self.setup()
        return len(self.walk["cells"])

    def setup(self, stage: str | None = None) -> None:
        if self.env is not None:
            return
        self.env = RoomsEnv(**ROOM_MAPS[self.env_name], view_radius=self.view_radius, goal_room=None,
                            texture_seed=self.texture_seed, similarity=self.similarity)
        self.walk = scripted_walk(self.env.layout, self.phases, self.steps_per_phase, self.seed)
        H, W = self.env.layout.shape
        table = np.zeros((H, W, self.obs_dim), dtype=np.float32)  # the observation of every free cell
        for r, c in self.env.all_free_cells():
            table[r, c] = self.env.observation_at((r, c)).reshape(-1) / np.float32(255.0)
        self._obs_table = table

    def _observations(self, cells: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self._obs_table[cells[:, 0], cells[:, 1]])

    def train_dataloader(self) -> DataLoader:
        self.setup()
        walk = self.walk
        arrays = {"obs": self._observations(walk["cells"]), "cell": torch.from_numpy(walk["cells"]),
                  "room": torch.from_numpy(walk["rooms"]), "phase": torch.from_numpy(walk["phase"]),
                  "step": torch.arange(len(walk["cells"])), "transit": torch.from_numpy(walk["transit"])}
        return DataLoader(WalkChunks(arrays, self.chunk), batch_size=None)

    # probes
    def room_observations(self, room: int | str) -> torch.Tensor:
        """float32 (n_cells, D): the observation of every cell of a room (id, or letter "A" = 0),
        row-major (door cells excluded)."""
        self.setup()
        if isinstance(room, str):
            room = phase_rooms([room], self.env.layout.num_rooms)[0]
        return self._observations(self.env.layout.room_cells(room))

    def cell_observations(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(cells int64 (n, 2), obs float32 (n, D)): every free cell (rooms and doors), row-major,
        for heat maps."""
        self.setup()
        cells = self.env.all_free_cells()
        return torch.from_numpy(cells.astype(np.int64)), self._observations(cells)

    def floor_image(self) -> np.ndarray:
        """uint8 (H, W, 3): the floor of the map (one pixel per cell), the background of heat maps."""
        self.setup()
        return self.env.floor.copy()

    @property
    def door_cells(self) -> np.ndarray:
        """int64 (n, 2): the door cells (row, col)."""
        self.setup()
        return np.array(self.env.layout.doors, dtype=np.int64).reshape(-1, 2)

    def room_at(self, cell) -> int:
        """The room id of a free cell (-1 on a door)."""
        self.setup()
        return int(self.env.layout.room_at(tuple(int(v) for v in cell)))

    def door_distance(self, cell) -> int:
        """Shortest-path distance (moves) from a free cell to the nearest door cell."""
        self.setup()
        if self._door_distances is None:
            self._door_distances = multi_source_distances(self.env.layout.free, self.door_cells)
        r, c = (int(v) for v in cell)
        return int(self._door_distances[r, c])
