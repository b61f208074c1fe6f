"""Worlds of Map Induction (docs/papers/map_induction.md sections 2.1, 3 and 6): the world type, and
the synthetic stand-ins for the paper's maps: repeated-room worlds and non-repeating controls.

A `MapInductionWorld` is immutable: `grid` (int8, EMPTY / REWARD / WALL of grid_format.py), `rooms`
(room ids, ROOM_WALL on walls, ROOM_DOOR on doors), the agent's `start`, and where it came from
(the file header and wall colours of a loaded map; the room template and the rooms' origins of a
generated one). It is checked when made: the start is a free cell, there is a reward, and every
reward can be reached from the start.

Generated worlds (spec 3 and 6). The rooms are those of `gridworld.rooms.rooms_layout(rows, cols,
room_size)`: room_size x room_size rooms, one-cell walls, a one-cell door centred in every shared
wall. A room template is a room_size x room_size int8 block drawn from a seed: round(obstacle_density
x room_size^2) wall cells placed one at a time in random cells, each kept only if the template's free
cells stay 4-connected; never on a protected cell (the room cells next to the doors of any room of the
layout, the template's centre, and the mirror images of these); then `n_rewards` rewards on distinct
random free, unprotected cells. A template equal to its own left-right mirror is redrawn (so that a
reflected room differs from an unreflected one). `repeated_rooms_world` copies ONE template into
every room (rewards at the same template positions in each room, `n_rewards` per room), the last room
mirrored left-right when `reflect_last`; `control_world` draws an independent template per room (all
different), the non-repeating control. The start is the centre of room 0 (kept free by the template).

Size (spec 6: "<= 30 x 30 cells"): 2 x 2 rooms of 7 give 17 x 17 cells, 1 x 4 rooms of 7 give
9 x 33 cells. The spec's bound is read as a bound on the number of cells (MAX_CELLS = 900), which the
1 x 4 layout of 7 x 7 rooms that spec 3 and 6 ask for meets (297 cells) though it is 33 columns wide.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from neurobolts.datamodules.gridworld.rooms import rooms_layout
from neurobolts.datamodules.gridworld.shortest_path import bfs_distances
from neurobolts.plugins.checks import check_choice, check_int, check_number, is_integer

from .grid_format import EMPTY, REWARD, ROOM_DOOR, ROOM_WALL, WALL

Cell = tuple[int, int]

LAYOUTS = {"2x2": (2, 2), "1x4": (1, 4), "3x3": (3, 3), "2x4": (2, 4)}  # the last two: paper-scale variant
MAX_CELLS = 900  # spec 6: worlds of at most 30 x 30 cells
MAX_TEMPLATE_DRAWS = 100
_FOUR = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class MapInductionWorld:
    """An immutable world (module docstring). `grid` int8 (H, W) of EMPTY / REWARD / WALL; `rooms`
    int (H, W): ROOM_WALL (-1) exactly on walls, ROOM_DOOR (-2) on doors, room ids 0.. elsewhere;
    `start` the agent's start cell (row, col); `header` the two header lines of the map file;
    `wall_colours` int8 (H, W) the file character (3, 7 or 8) of each wall cell, 0 elsewhere (None:
    all walls are 3). For generated worlds: `template` the room template (None for a control),
    `room_size`, `room_origins` the top-left cell of each room, `reflected_rooms` the rooms holding
    the mirrored template. Arrays are stored as read-only copies."""

    grid: np.ndarray
    rooms: np.ndarray
    start: Cell
    name: str = "world"
    header: tuple[str, str] = ("0", "0")
    wall_colours: np.ndarray | None = None
    template: np.ndarray | None = None
    room_size: int | None = None
    room_origins: tuple[Cell, ...] = ()
    reflected_rooms: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        grid = np.asarray(self.grid)
        if grid.ndim != 2 or grid.size == 0 or not np.issubdtype(grid.dtype, np.integer) \
                or not np.isin(grid, [EMPTY, REWARD, WALL]).all():
            raise ValueError(f"grid must be a non-empty 2-D integer grid of EMPTY ({EMPTY}), REWARD ({REWARD}) and "
                             f"WALL ({WALL}) cells, got {grid.dtype} {grid.shape}")
        rooms = np.asarray(self.rooms)
        if rooms.shape != grid.shape or not np.issubdtype(rooms.dtype, np.integer):
            raise ValueError(f"rooms must be an integer grid of the grid's shape {grid.shape}, got {rooms.dtype} "
                             f"{rooms.shape}")
        if ((rooms == ROOM_WALL) != (grid == WALL)).any() or (rooms < ROOM_DOOR).any():
            raise ValueError(f"rooms must be {ROOM_WALL} exactly on the walls and {ROOM_DOOR} (door) or a room id "
                             ">= 0 on the free cells")
        object.__setattr__(self, "grid", _read_only(grid.astype(np.int8)))
        object.__setattr__(self, "rooms", _read_only(rooms.astype(np.int64)))
        if self.wall_colours is not None:
            colours = np.asarray(self.wall_colours)
            if colours.shape != grid.shape:
                raise ValueError(f"wall_colours must have the grid's shape {grid.shape}, got {colours.shape}")
            object.__setattr__(self, "wall_colours", _read_only(colours.astype(np.int8)))
        if self.template is not None:
            object.__setattr__(self, "template", _read_only(np.asarray(self.template, dtype=np.int8)))
        if len(self.header) != 2 or not all(isinstance(line, str) for line in self.header):
            raise ValueError(f"header must be two strings (the header lines of a map file), got {self.header!r}")
        object.__setattr__(self, "header", tuple(self.header))
        start = tuple(self.start)
        if len(start) != 2 or not all(is_integer(v) for v in start):
            raise ValueError(f"start must be a cell (row, col), got {self.start!r}")
        object.__setattr__(self, "start", (int(start[0]), int(start[1])))
        self.validate()

    @property
    def shape(self) -> tuple[int, int]:
        return self.grid.shape

    @property
    def free(self) -> np.ndarray:
        """bool (H, W): cells the agent may stand on (every cell but walls; rewards included)."""
        return self.grid != WALL

    @property
    def rewards(self) -> np.ndarray:
        """int (K, 2): the reward cells (row, col), row-major."""
        return np.argwhere(self.grid == REWARD)

    @property
    def num_rooms(self) -> int:
        return int(self.rooms.max()) + 1

    def room_cells(self, k: int) -> np.ndarray:
        """int (n, 2): the free cells (row, col) of room k, row-major (walls and doors excluded)."""
        check_int("room", k, 0, self.num_rooms - 1)
        return np.argwhere(self.rooms == k)

    def room_grid(self, k: int) -> np.ndarray:
        """int8 (s, s): the block of `grid` covered by room k of a generated world."""
        if not self.room_origins:
            raise ValueError(f"room_grid needs a generated world (with room_origins), world {self.name!r} has none")
        r0, c0 = self.room_origins[check_int("room", k, 0, len(self.room_origins) - 1)]
        return self.grid[r0:r0 + self.room_size, c0:c0 + self.room_size]

    def validate(self) -> MapInductionWorld:
        """Check the start and the rewards (module docstring); returns the world."""
        H, W = self.shape
        r, c = self.start
        if not (0 <= r < H and 0 <= c < W) or self.grid[r, c] == WALL:
            raise ValueError(f"world {self.name!r}: start must be a free cell (row, col) of the {H}x{W} map, got "
                             f"{self.start!r}")
        rewards = self.rewards
        if rewards.size == 0:
            raise ValueError(f"world {self.name!r} holds no reward; a world needs at least one")
        distances = bfs_distances(self.free, self.start)
        unreachable = rewards[distances[rewards[:, 0], rewards[:, 1]] < 0]
        if unreachable.size:
            cells = ", ".join(str(tuple(cell)) for cell in unreachable.tolist())
            raise ValueError(f"world {self.name!r}: rewards at {cells} cannot be reached from the start {self.start}")
        return self


def _connected(free: np.ndarray) -> bool:
    return ndimage.label(free, structure=_FOUR)[1] == 1


def _protected_cells(layout) -> np.ndarray:
    """bool (s, s): template cells kept free and reward-free (module docstring)."""
    s = layout.room_size
    protected = np.zeros((s, s), dtype=bool)
    for r, c in layout.doors:
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            k = layout.room_of[r + dr, c + dc]
            if k >= 0:
                r0, c0 = layout.room_origin(int(k))
                protected[r + dr - r0, c + dc - c0] = True
    protected[s // 2, s // 2] = True
    return protected | protected[:, ::-1]


def room_template(layout, rng: np.random.Generator, n_rewards: int, obstacle_density: float) -> np.ndarray:
    """int8 (s, s): one random room template for the rooms of `layout` (module docstring)."""
    s = layout.room_size
    protected = _protected_cells(layout)
    n_obstacles = int(round(obstacle_density * s * s))
    for _ in range(MAX_TEMPLATE_DRAWS):
        template = np.full((s, s), EMPTY, dtype=np.int8)
        placed = 0
        for index in rng.permutation(s * s):
            if placed == n_obstacles:
                break
            r, c = divmod(int(index), s)
            if protected[r, c]:
                continue
            template[r, c] = WALL
            if _connected(template != WALL):
                placed += 1
            else:
                template[r, c] = EMPTY
        options = np.flatnonzero((template == EMPTY) & ~protected)
        if options.size < n_rewards:
            raise ValueError(f"n_rewards must be at most the {options.size} free unprotected cells of a "
                             f"{s}x{s} room with obstacle_density={obstacle_density}, got {n_rewards}")
        template.flat[rng.choice(options, n_rewards, replace=False)] = REWARD
        if not np.array_equal(template, template[:, ::-1]):
            return template
    raise ValueError(f"could not draw a left-right asymmetric {s}x{s} room template in {MAX_TEMPLATE_DRAWS} "
                     f"draws (n_rewards={n_rewards}, obstacle_density={obstacle_density})")


def _layout(layout: str, room_size: int):
    rows, cols = LAYOUTS[check_choice("layout", layout, tuple(LAYOUTS))]
    room_size = check_int("room_size", room_size, 3)
    grid = rooms_layout(rows, cols, room_size)
    if grid.room_of.size > MAX_CELLS:
        raise ValueError(f"room_size must keep the world within {MAX_CELLS} cells (spec 6), got {room_size} "
                         f"({grid.shape[0]} x {grid.shape[1]} cells for layout {layout!r})")
    return grid


def _check_room_args(n_rewards, obstacle_density) -> tuple[int, float]:
    return (check_int("n_rewards", n_rewards, 1),
            check_number("obstacle_density", obstacle_density, 0.0, 0.5))


def _assemble(layout, templates: list[np.ndarray], name: str, template: np.ndarray | None,
              reflected: tuple[int, ...]) -> MapInductionWorld:
    grid = np.where(layout.room_of == ROOM_WALL, WALL, EMPTY).astype(np.int8)
    s = layout.room_size
    origins = tuple(layout.room_origin(k) for k in range(layout.num_rooms))
    for (r0, c0), block in zip(origins, templates, strict=True):
        grid[r0:r0 + s, c0:c0 + s] = block
    rooms = np.where(grid == WALL, ROOM_WALL, layout.room_of)
    return MapInductionWorld(grid=grid, rooms=rooms, start=layout.centre(0), name=name, template=template,
                             room_size=s, room_origins=origins, reflected_rooms=reflected)


def repeated_rooms_world(layout: str = "2x2", room_size: int = 7, template_seed: int = 0, n_rewards: int = 5,
                         obstacle_density: float = 0.15, reflect_last: bool = False,
                         name: str | None = None) -> MapInductionWorld:
    """A world of ONE room template copied into every room of a "2x2" or "1x4" layout, the last
    room mirrored left-right if `reflect_last` (module docstring). Deterministic per template_seed."""
    grid_layout = _layout(layout, room_size)
    n_rewards, obstacle_density = _check_room_args(n_rewards, obstacle_density)
    if not is_integer(template_seed):
        raise ValueError(f"template_seed must be an integer, got {template_seed!r}")
    if not isinstance(reflect_last, bool):
        raise ValueError(f"reflect_last must be a bool, got {reflect_last!r}")
    template = room_template(grid_layout, np.random.default_rng(template_seed), n_rewards, obstacle_density)
    blocks = [template] * grid_layout.num_rooms
    reflected: tuple[int, ...] = ()
    if reflect_last:
        reflected = (grid_layout.num_rooms - 1,)
        blocks[-1] = template[:, ::-1]
    if name is None:
        name = f"repeated_{layout}" + ("_reflected" if reflect_last else "") + f"_seed{template_seed}"
    return _assemble(grid_layout, blocks, name, template, reflected)


def control_world(layout: str = "2x2", room_size: int = 7, seed: int = 0, n_rewards: int = 5,
                  obstacle_density: float = 0.15, name: str | None = None) -> MapInductionWorld:
    """The non-repeating control: the same layout, every room its own independently drawn template
    (all different), `n_rewards` per room (module docstring). Deterministic per seed."""
    grid_layout = _layout(layout, room_size)
    n_rewards, obstacle_density = _check_room_args(n_rewards, obstacle_density)
    if not is_integer(seed):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    rng = np.random.default_rng(seed)
    blocks: list[np.ndarray] = []
    while len(blocks) < grid_layout.num_rooms:
        block = room_template(grid_layout, rng, n_rewards, obstacle_density)
        if not any(np.array_equal(block, other) for other in blocks):
            blocks.append(block)
    return _assemble(grid_layout, blocks, name or f"control_{layout}_seed{seed}", None, ())


def cpu_worlds() -> tuple[MapInductionWorld, ...]:
    """The worlds of the CPU experiment (spec 6), deterministic: repeated 2 x 2, repeated 1 x 4,
    repeated 2 x 2 with the last room reflected, and a non-repeating 2 x 2 control; 7 x 7 rooms,
    5 rewards per room, obstacle density 0.15."""
    return (repeated_rooms_world("2x2", template_seed=0, name="repeated_2x2"),
            repeated_rooms_world("1x4", template_seed=1, name="repeated_1x4"),
            repeated_rooms_world("2x2", template_seed=2, reflect_last=True, name="repeated_2x2_reflected"),
            control_world("2x2", seed=3, name="control_2x2"))


def paper_worlds() -> tuple[MapInductionWorld, ...]:
    """Larger stand-ins for `experiment=map_induction_paper` (the paper's test1-test12 maps are not
    redistributable: pass your copies as world files): repeated 3 x 3 (25 x 25 cells) and 2 x 4
    (17 x 33) lattices of 7 x 7 rooms, the 3 x 3 one again with its last room reflected, and a
    non-repeating 3 x 3 control; 5 rewards per room."""
    return (repeated_rooms_world("3x3", template_seed=10, name="repeated_3x3"),
            repeated_rooms_world("2x4", template_seed=11, name="repeated_2x4"),
            repeated_rooms_world("3x3", template_seed=12, reflect_last=True, name="repeated_3x3_reflected"),
            control_world("3x3", seed=13, name="control_3x3"))
