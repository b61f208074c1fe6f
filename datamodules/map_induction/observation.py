"""Observation models of Map Induction (docs/papers/map_induction.md sections 2.2 and 7.6) and the
agent's knowledge of the map.

`observe(world, cell, mode, heading)` is the bool (H, W) mask of the cells the agent sees from a free
`cell`:
- `room`: the whole room of the cell with what bounds it: its free cells and every wall or door
  cell 8-adjacent to them, then, repeated until nothing changes, every wall cell that completes a
  2 x 2 block whose three other cells are shown (a corner of the wall ring behind an obstacle in the
  room's corner, a block of obstacles inside the room). A rectangular room thus shows exactly its
  box: its cells, obstacles, wall ring and doors. On a door cell: the 4-connected group of door
  cells holding it (a doorway or corridor) and every room 4-adjacent to that group, each with what
  bounds it (standing in a doorway shows both rooms).
- `fixed_radius`: the 3 x 3 square around the cell; `fixed_radius_med`: the 5 x 5 square; both
  clipped to the map, no occlusion.
- `line_of_sight`: every cell within Euclidean distance LINE_OF_SIGHT_RANGE (5) whose line of sight
  is clear, over 360 degrees.
- `directional_line_of_sight`: the same within DIRECTIONAL_RANGE (30) cells, restricted to the 90
  degree cone about `heading` (0 up, 1 right, 2 down, 3 left as in gridworld.headings): a cell a
  steps ahead and b steps to the side is in the cone iff a >= |b|.
Line of sight is gridworld.view_geometry's exact rule (`ray`): a cell is hidden iff the segment
between the cell centres passes through the interior of an opaque cell other than its two ends, or
through a corner where both cells meeting the segment only there are opaque. Opaque = walls AND
rewards (spec 2.2; a collected reward no longer blocks); an opaque cell itself is seen when its own
ray is clear.

`ObservedMap` is the agent's knowledge over one episode: `known` (int8, UNOBSERVED where never seen,
else what was seen there), the collected rewards, and the episode's view of the world (the world
itself stays immutable; a collected reward is EMPTY in the view and, once seen, in `known`).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage

from neurobolts.datamodules.gridworld.headings import DELTAS, HEADINGS
from neurobolts.datamodules.gridworld.view_geometry import ray
from neurobolts.plugins.checks import check_choice, is_integer

from .grid_format import EMPTY, REWARD, ROOM_DOOR, ROOM_WALL, UNOBSERVED, WALL
from .worlds import MapInductionWorld

OBSERVATION_MODES = ("room", "fixed_radius", "fixed_radius_med", "line_of_sight", "directional_line_of_sight")
SQUARE_RADIUS = {"fixed_radius": 1, "fixed_radius_med": 2}  # 3 x 3 and 5 x 5
LINE_OF_SIGHT_RANGE = 5
DIRECTIONAL_RANGE = 30

Cell = tuple[int, int]
_FOUR = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)
_EIGHT = np.ones((3, 3), dtype=bool)


class _Rays:
    """Line-of-sight tables of a set of target offsets in a (2R + 1)^2 window centred on the agent:
    flat window indices of the targets, (target, blocker) pairs and (target, a, b) corner triples."""

    def __init__(self, radius: int, offsets: list[Cell]):
        self.radius = radius
        size = 2 * radius + 1
        centre = (radius, radius)
        self.offsets = np.array(offsets, dtype=np.intp).reshape(-1, 2)
        self.targets = (self.offsets[:, 0] + radius) * size + self.offsets[:, 1] + radius
        single, pair = [], []
        for i, (dr, dc) in enumerate(offsets):
            cells, corners = ray(centre, (radius + dr, radius + dc))
            single += [(i, r * size + c) for r, c in cells]
            pair += [(i, a[0] * size + a[1], b[0] * size + b[1]) for a, b in corners]
        self.single = np.array(single, dtype=np.intp).reshape(-1, 2).T
        self.pair = np.array(pair, dtype=np.intp).reshape(-1, 3).T

    def visible(self, opaque_window: np.ndarray) -> np.ndarray:
        """bool (n,): which targets are seen, given the flat opacity of the window."""
        hidden = np.zeros(len(self.targets), dtype=bool)
        hidden[self.single[0][opaque_window[self.single[1]]]] = True
        hidden[self.pair[0][opaque_window[self.pair[1]] & opaque_window[self.pair[2]]]] = True
        return ~hidden


@functools.lru_cache(maxsize=8)
def _rays(radius: int, heading: int | None) -> _Rays:
    """The targets within Euclidean distance `radius`, all around (heading None) or in the 90 degree
    cone about `heading`."""
    offsets = []
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            if dr * dr + dc * dc > radius * radius:
                continue
            if heading is not None:
                ahead = dr * DELTAS[heading][0] + dc * DELTAS[heading][1]
                side = dr * DELTAS[(heading + 1) % 4][0] + dc * DELTAS[(heading + 1) % 4][1]
                if ahead < abs(side):
                    continue
            offsets.append((dr, dc))
    return _Rays(radius, offsets)


def _sight(grid: np.ndarray, cell: Cell, rays: _Rays) -> np.ndarray:
    R = rays.radius
    opaque = np.pad((grid == WALL) | (grid == REWARD), R, constant_values=True)
    r, c = cell
    window = opaque[r:r + 2 * R + 1, c:c + 2 * R + 1].ravel()
    cells = rays.offsets[rays.visible(window)] + np.array(cell)
    inside = (cells[:, 0] >= 0) & (cells[:, 0] < grid.shape[0]) & (cells[:, 1] >= 0) & (cells[:, 1] < grid.shape[1])
    mask = np.zeros(grid.shape, dtype=bool)
    mask[cells[inside, 0], cells[inside, 1]] = True
    return mask


def _square(shape: tuple[int, int], cell: Cell, radius: int) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    r, c = cell
    mask[max(r - radius, 0):r + radius + 1, max(c - radius, 0):c + radius + 1] = True
    return mask


def _room(rooms: np.ndarray, cell: Cell) -> np.ndarray:
    k = int(rooms[cell])
    if k >= 0:
        region = rooms == k
    else:  # a door: its group of door cells and the rooms next to it
        groups, _ = ndimage.label(rooms == ROOM_DOOR, structure=_FOUR)
        group = groups == groups[cell]
        neighbours = rooms[ndimage.binary_dilation(group, structure=_FOUR) & ~group]
        region = group | np.isin(rooms, neighbours[neighbours >= 0])
    mask = region | (ndimage.binary_dilation(region, structure=_EIGHT) & (rooms < 0))
    walls = rooms == ROOM_WALL
    H, W = mask.shape
    while True:  # complete 2 x 2 blocks of which three cells are shown with a wall cell
        padded = np.pad(mask, 1)
        completes = np.zeros_like(mask)
        for dr, dc in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
            completes |= (padded[1 + dr:1 + dr + H, 1:1 + W] & padded[1:1 + H, 1 + dc:1 + dc + W]
                          & padded[1 + dr:1 + dr + H, 1 + dc:1 + dc + W])
        add = completes & walls & ~mask
        if not add.any():
            return mask
        mask |= add


def observe(world: MapInductionWorld, cell, mode: str, heading: int | None = None,
            grid: np.ndarray | None = None) -> np.ndarray:
    """bool (H, W): the cells seen from the free `cell` in observation `mode` (module docstring).
    `heading` is required by `directional_line_of_sight` only; `grid` is the episode's view of the
    world (collected rewards EMPTY; default `world.grid`), which decides what blocks the sight."""
    if not isinstance(world, MapInductionWorld):
        raise ValueError(f"world must be a MapInductionWorld, got {type(world).__name__}")
    check_choice("mode", mode, OBSERVATION_MODES)
    H, W = world.shape
    if len(cell) != 2 or not all(is_integer(v) for v in cell) or not (0 <= cell[0] < H and 0 <= cell[1] < W) \
            or world.grid[cell[0], cell[1]] == WALL:
        raise ValueError(f"cell must be a free cell (row, col) of the {H}x{W} world {world.name!r}, got {tuple(cell)!r}")
    cell = (int(cell[0]), int(cell[1]))
    if mode == "directional_line_of_sight" or heading is not None:
        check_choice("heading", heading, HEADINGS, allow_none=mode != "directional_line_of_sight")
    if grid is None:
        grid = world.grid
    elif np.shape(grid) != world.shape:
        raise ValueError(f"grid must be the episode's view of the world, of shape {world.shape}, got {np.shape(grid)}")
    if mode == "room":
        return _room(world.rooms, cell)
    if mode in SQUARE_RADIUS:
        return _square(world.shape, cell, SQUARE_RADIUS[mode])
    if mode == "line_of_sight":
        return _sight(np.asarray(grid), cell, _rays(LINE_OF_SIGHT_RANGE, None))
    return _sight(np.asarray(grid), cell, _rays(DIRECTIONAL_RANGE, int(heading)))


class ObservedMap:
    """The agent's knowledge of `world` over one episode (module docstring)."""

    def __init__(self, world: MapInductionWorld):
        if not isinstance(world, MapInductionWorld):
            raise ValueError(f"world must be a MapInductionWorld, got {type(world).__name__}")
        self.world = world
        self._known = np.full(world.shape, UNOBSERVED, dtype=np.int8)
        self._view = world.grid.copy()
        self.collected: list[Cell] = []

    @property
    def known(self) -> np.ndarray:
        """int8 (H, W) read-only: UNOBSERVED (6) where never seen, else EMPTY / REWARD / WALL as seen
        (a collected reward is EMPTY)."""
        known = self._known.view()
        known.flags.writeable = False
        return known

    @property
    def view(self) -> np.ndarray:
        """int8 (H, W) read-only: the world as it is now in this episode (collected rewards EMPTY)."""
        view = self._view.view()
        view.flags.writeable = False
        return view

    @property
    def observed(self) -> np.ndarray:
        """bool (H, W): cells seen at least once."""
        return self._known != UNOBSERVED

    @property
    def observed_fraction(self) -> float:
        """The fraction of the map's cells seen at least once."""
        return float(self.observed.mean())

    @property
    def remaining_rewards(self) -> np.ndarray:
        """int (K, 2): reward cells not collected yet, row-major."""
        return np.argwhere(self._view == REWARD)

    @property
    def all_collected(self) -> bool:
        return not (self._view == REWARD).any()

    def update(self, mask: np.ndarray) -> int:
        """Record the cells of the bool (H, W) `mask` as seen (their current content); returns how
        many of them had never been seen."""
        mask = np.asarray(mask)
        if mask.shape != self.world.shape or mask.dtype != bool:
            raise ValueError(f"mask must be a bool grid of the world's shape {self.world.shape}, got {mask.dtype} "
                             f"{mask.shape}")
        new = int(np.count_nonzero(mask & (self._known == UNOBSERVED)))
        self._known[mask] = self._view[mask]
        return new

    def observe(self, cell, mode: str, heading: int | None = None) -> int:
        """`update` with what `observe` shows from `cell` in this episode's view; returns the number
        of newly seen cells."""
        return self.update(observe(self.world, cell, mode, heading, grid=self._view))

    def collect(self, cell) -> bool:
        """Collect the reward at `cell` if one is there (it becomes EMPTY in the view and, if seen,
        in `known`); returns whether a reward was collected."""
        H, W = self.world.shape
        if len(cell) != 2 or not all(is_integer(v) for v in cell) or not (0 <= cell[0] < H and 0 <= cell[1] < W):
            raise ValueError(f"cell must be a cell (row, col) of the {H}x{W} world, got {tuple(cell)!r}")
        r, c = int(cell[0]), int(cell[1])
        if self._view[r, c] != REWARD:
            return False
        self._view[r, c] = EMPTY
        if self._known[r, c] != UNOBSERVED:
            self._known[r, c] = EMPTY
        self.collected.append((r, c))
        return True
