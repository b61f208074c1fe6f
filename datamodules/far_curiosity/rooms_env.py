"""The heterogeneous-rooms grid world of FARCuriosity (docs/papers/far_curiosity.md sections 3 and 6),
as a gymnasium environment.

The map is a room lattice (neurobolts.datamodules.gridworld.rooms): every room has its own floor
colour and line pattern, neighbouring rooms are joined by a centred door. The observation is the
agent-centred (2r + 1) x (2r + 1) RGB crop of the floor image (r = `view_radius`, one pixel per
cell; cells outside the map are black; the agent's own cell, at the centre, is AGENT_COLOUR). The
goal is not drawn in the observation (a sparse reward must be found, not seen from afar); `render()`
shows the whole floor with the agent and the goal.

Actions are the four allocentric moves of the shared grid world (gridworld.headings): 0 up,
1 right, 2 down, 3 left; a move into a wall leaves the agent where it is. The reward is 1.0 on
entering the goal cell (the centre of `goal_room`; "farthest" = the room whose centre is farthest,
in moves, from the start room's centre), which ends the episode (terminated); `goal_room=None` gives
no reward and no termination (the forgetting study and intrinsic-only RL). An episode is truncated
after `max_episode_steps` steps. The reset puts the agent on a uniformly drawn free cell of
`start_room` (never the goal), or on `start_cell`, or on `options["cell"]` when given.
`info` holds "cell" (row, col) and "room" (room id, -1 on a door).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from neurobolts.datamodules.gridworld.headings import DELTAS
from neurobolts.datamodules.gridworld.rooms import RoomsLayout, floor_image, room_textures, rooms_layout
from neurobolts.datamodules.gridworld.shortest_path import bfs_distances
from neurobolts.plugins.checks import check_choice, check_fraction, check_int, check_positive_int, is_integer

AGENT_COLOUR = (245, 245, 245)
GOAL_COLOUR = (255, 200, 0)  # render() only
ACTION_NAMES = ("up", "right", "down", "left")


class RoomsEnv(gymnasium.Env):
    """Egocentric RGB crops of a heterogeneous room lattice (module docstring).

    Args:
        rows, cols, room_size, door_width: the lattice (gridworld.rooms.rooms_layout).
        view_radius: r of the (2r + 1) x (2r + 1) x 3 uint8 observation.
        start_room: room of the random start cell.
        start_cell: optional fixed start cell (row, col), a free cell that is not the goal.
        goal_room: "farthest", a room id, or None (no reward, no termination).
        max_episode_steps: truncation after this many steps.
        texture_seed, similarity: the room textures (gridworld.rooms.room_textures).
        render_mode: "rgb_array" (render() returns the (H, W, 3) floor with agent and goal) or None.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, rows: int = 1, cols: int = 2, room_size: int = 9, door_width: int = 1, view_radius: int = 3,
                 start_room: int = 0, start_cell: tuple[int, int] | None = None, goal_room: int | str | None = "farthest",
                 max_episode_steps: int = 500, texture_seed: int = 0, similarity: float = 0.0,
                 render_mode: str | None = "rgb_array") -> None:
        self.layout: RoomsLayout = rooms_layout(rows, cols, room_size, door_width)
        self.view_radius = check_int("view_radius", view_radius, 0)
        self.start_room = check_int("start_room", start_room, 0, self.layout.num_rooms - 1)
        self.max_episode_steps = check_positive_int("max_episode_steps", max_episode_steps)
        if not is_integer(texture_seed):
            raise ValueError(f"texture_seed must be an integer, got {texture_seed!r}")
        self.texture_seed = int(texture_seed)
        self.similarity = check_fraction("similarity", similarity)
        self.render_mode = check_choice("render_mode", render_mode, self.metadata["render_modes"], allow_none=True)
        self.free = self.layout.free
        self.goal_room = self._goal_room(goal_room)
        self.goal_cell = None if self.goal_room is None else self.layout.centre(self.goal_room)
        self.start_cell = None if start_cell is None else self._check_cell("start_cell", start_cell)
        self._start_cells = np.array([cell for cell in self.layout.room_cells(self.start_room).tolist()
                                      if tuple(cell) != self.goal_cell], dtype=np.int64)
        if self.start_cell is None and len(self._start_cells) == 0:
            raise ValueError(f"start_room must hold a free cell besides the goal, got {self.start_room!r} "
                             f"(a 1-cell room holding the goal)")
        self.floor = floor_image(self.layout, room_textures(self.layout.num_rooms, self.texture_seed, self.similarity))
        r = self.view_radius
        self._padded = np.pad(self.floor, ((r, r), (r, r), (0, 0)))  # black outside the map
        side = 2 * r + 1
        self.observation_space = spaces.Box(0, 255, (side, side, 3), dtype=np.uint8)
        self.action_space = spaces.Discrete(4)
        self.cell: tuple[int, int] | None = None
        self.steps = 0

    def _goal_room(self, goal_room) -> int | None:
        if goal_room is None:
            return None
        if goal_room == "farthest":
            if self.layout.num_rooms < 2:
                raise ValueError("goal_room must be a room id or None on a one-room map, got 'farthest'")
            distances = bfs_distances(self.free, self.layout.centre(self.start_room))
            far = [int(distances[self.layout.centre(k)]) if k != self.start_room else -1
                   for k in range(self.layout.num_rooms)]
            return int(np.argmax(far))  # ties: the smallest room id
        return check_int("goal_room", goal_room, 0, self.layout.num_rooms - 1,
                         expected=f"'farthest', None or a room id in [0, {self.layout.num_rooms - 1}]")

    def _check_cell(self, name: str, cell) -> tuple[int, int]:
        H, W = self.layout.shape
        ok = (isinstance(cell, (Sequence, np.ndarray)) and not isinstance(cell, str) and len(cell) == 2 and all(is_integer(v) for v in cell)
              and 0 <= cell[0] < H and 0 <= cell[1] < W and self.free[cell[0], cell[1]])
        if not ok or tuple(int(v) for v in cell) == self.goal_cell:
            raise ValueError(f"{name} must be a free cell (row, col) of the {H}x{W} map other than the goal "
                             f"{self.goal_cell}, got {cell!r}")
        return int(cell[0]), int(cell[1])

    # observations and probes
    def observation_at(self, cell) -> np.ndarray:
        """uint8 (2r + 1, 2r + 1, 3): the observation of an agent standing on `cell`."""
        r, c = int(cell[0]), int(cell[1])
        side = 2 * self.view_radius + 1
        view = self._padded[r:r + side, c:c + side].copy()
        view[self.view_radius, self.view_radius] = AGENT_COLOUR
        return view

    def all_free_cells(self) -> np.ndarray:
        """int (n, 2): every cell the agent may stand on (rooms and doors), row-major."""
        return np.argwhere(self.free)

    def _info(self) -> dict[str, Any]:
        return {"cell": self.cell, "room": self.layout.room_at(self.cell)}

    # gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if options and options.get("cell") is not None:
            self.cell = self._check_cell("options['cell']", options["cell"])
        elif self.start_cell is not None:
            self.cell = self.start_cell
        else:
            r, c = self._start_cells[self.np_random.integers(len(self._start_cells))]
            self.cell = (int(r), int(c))
        self.steps = 0
        return self.observation_at(self.cell), self._info()

    def step(self, action):
        if self.cell is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be one of 0..3 ({', '.join(ACTION_NAMES)}), got {action!r}")
        dr, dc = DELTAS[int(action)]
        r, c = self.cell[0] + int(dr), self.cell[1] + int(dc)
        if self.free[r, c]:  # the map has a wall border: a free cell's neighbours are on the map
            self.cell = (r, c)
        self.steps += 1
        terminated = self.cell == self.goal_cell
        truncated = not terminated and self.steps >= self.max_episode_steps
        return self.observation_at(self.cell), float(terminated), terminated, truncated, self._info()

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        image = self.floor.copy()
        if self.goal_cell is not None:
            image[self.goal_cell] = GOAL_COLOUR
        if self.cell is not None:
            image[self.cell] = AGENT_COLOUR
        return image
