"""Room lattices with heterogeneous floors (docs/papers/far_curiosity.md sections 3 and 6A; reused by
Map Induction): square rooms on a rows x cols grid, one-cell walls around every room, a centred door
in every wall that two neighbouring rooms share, and a floor image in which every room has its own
colour and stripe pattern. NumPy only: importing it loads neither torch nor Lightning.

Geometry. Room (i, j) has id k = i * cols + j and occupies rows 1 + i (s + 1) .. i (s + 1) + s and
columns 1 + j (s + 1) .. j (s + 1) + s (s = room_size), so the map is (rows (s + 1) + 1) x
(cols (s + 1) + 1). The wall between two neighbouring rooms is one cell thick; its door is
`door_width` cells, centred on the shared side (offset (s - door_width) // 2 from the room's first
row/column). `RoomsLayout.room_of` marks every cell: WALL (-1), DOOR (-2) or the id k >= 0 of its
room; door cells are listed again in `doors`. Functions that report "the room of a cell" (`room_at`,
the environment's info, the scripted walk) use -1 for a cell that is in no room (a door).

Textures. `room_textures` draws one texture per room: a colour (evenly spaced hues, randomly
offset and permuted, so every pair of rooms differs) and a one-cell line pattern (horizontal,
vertical, diagonal, anti-diagonal lines every `period` cells, or a checker of squares of side
period - 1), all (pattern, period) pairs distinct for up to 10 rooms. `similarity` s in [0, 1]
blends each room toward one shared texture: colour (1 - s) own + s COMMON_COLOUR and line mask
(1 - s) own + s shared (checker, period 2); s = 1 makes every room look the same (colour and
pattern), s = 0 keeps them fully distinct. Patterns are laid out in room-local coordinates, so
identical textures give identical rooms.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from neurobolts.plugins.checks import check_fraction, check_int, check_positive_int, is_integer

WALL = -1
DOOR = -2
NO_ROOM = -1  # "the room of a cell" for a cell that is in no room (a door)

WALL_COLOUR = (50, 50, 50)
DOOR_COLOUR = (185, 185, 185)
COMMON_COLOUR = (125, 125, 125)  # the colour every room tends to as similarity -> 1
PATTERNS = ("horizontal", "vertical", "diagonal", "anti-diagonal", "checker")
PERIODS = (2, 3)
SHARED_PATTERN = ("checker", 2)  # the pattern every room tends to as similarity -> 1
LINE_SHADE = 0.4  # a line darkens the floor colour by this fraction

Cell = tuple[int, int]


@dataclass(frozen=True, eq=False)
class RoomsLayout:
    """A room lattice (module docstring). `room_of` is an int (H, W) array (read-only): WALL (-1),
    DOOR (-2) or a room id in [0, num_rooms); `doors` the door cells (row, col), row-major."""

    room_of: np.ndarray
    doors: tuple[Cell, ...]
    num_rooms: int
    rows: int
    cols: int
    room_size: int
    door_width: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.room_of.shape

    @property
    def free(self) -> np.ndarray:
        """bool (H, W): True where the agent may stand (room and door cells)."""
        return self.room_of != WALL

    def _check_room(self, k) -> int:
        return check_int("room", k, 0, self.num_rooms - 1)

    def room_origin(self, k: int) -> Cell:
        """The top-left cell of room k."""
        i, j = divmod(self._check_room(k), self.cols)
        return 1 + i * (self.room_size + 1), 1 + j * (self.room_size + 1)

    def room_cells(self, k: int) -> np.ndarray:
        """int (n, 2): the cells (row, col) of room k, row-major (door cells excluded)."""
        return np.argwhere(self.room_of == self._check_room(k))

    def centre(self, k: int) -> Cell:
        """The centre cell of room k (for an even room size, the lower/right of the two middle cells)."""
        r0, c0 = self.room_origin(k)
        return r0 + self.room_size // 2, c0 + self.room_size // 2

    def room_at(self, cell) -> int:
        """The room id of a free cell, NO_ROOM (-1) on a door; ValueError on a wall or off the map."""
        r, c = int(cell[0]), int(cell[1])
        if not (0 <= r < self.shape[0] and 0 <= c < self.shape[1]) or self.room_of[r, c] == WALL:
            raise ValueError(f"cell must be a free cell (row, col) of the {self.shape[0]}x{self.shape[1]} map, "
                             f"got {tuple(cell)!r}")
        return max(int(self.room_of[r, c]), NO_ROOM)

    def rooms_of(self, cells) -> np.ndarray:
        """int (n,): `room_at` of each of the (n, 2) cells, -1 on doors (and walls)."""
        cells = np.asarray(cells, dtype=np.intp).reshape(-1, 2)
        return np.maximum(self.room_of[cells[:, 0], cells[:, 1]], NO_ROOM)

    def door_between(self, a: int, b: int) -> np.ndarray:
        """int (n, 2): the door cells in the wall between rooms a and b (empty if not neighbours)."""
        pair = {self._check_room(a), self._check_room(b)}
        cells = [cell for cell in self.doors if set(self._door_rooms(cell)) == pair]
        return np.array(cells, dtype=np.intp).reshape(-1, 2)

    def _door_rooms(self, cell: Cell) -> tuple[int, int]:
        r, c = cell
        if self.room_of[r - 1, c] >= 0 and self.room_of[r + 1, c] >= 0:  # in a horizontal wall
            return int(self.room_of[r - 1, c]), int(self.room_of[r + 1, c])
        return int(self.room_of[r, c - 1]), int(self.room_of[r, c + 1])


def rooms_layout(rows: int, cols: int, room_size: int, door_width: int = 1) -> RoomsLayout:
    """A rows x cols lattice of room_size x room_size rooms with one centred door of `door_width`
    cells in every wall shared by two rooms (module docstring). rooms_layout(1, 2, 9): two 9 x 9
    rooms side by side (the map of the forgetting study, spec 6A); rooms_layout(2, 2, 7): four rooms."""
    rows = check_positive_int("rows", rows)
    cols = check_positive_int("cols", cols)
    room_size = check_positive_int("room_size", room_size)
    door_width = check_int("door_width", door_width, 1, room_size,
                           expected=f"an integer in [1, room_size={room_size}]")
    period = room_size + 1
    room_of = np.full((rows * period + 1, cols * period + 1), WALL, dtype=np.int64)
    offset = (room_size - door_width) // 2
    for i in range(rows):
        for j in range(cols):
            r0, c0 = 1 + i * period, 1 + j * period
            room_of[r0:r0 + room_size, c0:c0 + room_size] = i * cols + j
            if j + 1 < cols:  # door in the wall to the right
                room_of[r0 + offset:r0 + offset + door_width, c0 + room_size] = DOOR
            if i + 1 < rows:  # door in the wall below
                room_of[r0 + room_size, c0 + offset:c0 + offset + door_width] = DOOR
    room_of.setflags(write=False)
    doors = tuple((int(r), int(c)) for r, c in np.argwhere(room_of == DOOR))
    return RoomsLayout(room_of, doors, rows * cols, rows, cols, room_size, door_width)


@dataclass(frozen=True)
class RoomTexture:
    """The floor of one room: RGB `colour` (already blended toward COMMON_COLOUR), its own line
    `pattern` and `period`, and `similarity` (the weight of SHARED_PATTERN in the line mask)."""

    colour: tuple[float, float, float]
    pattern: str
    period: int
    similarity: float = 0.0


def room_textures(num_rooms: int, seed: int = 0, similarity: float = 0.0) -> tuple[RoomTexture, ...]:
    """One texture per room (module docstring), deterministic per seed."""
    num_rooms = check_positive_int("num_rooms", num_rooms)
    if not is_integer(seed):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    similarity = check_fraction("similarity", similarity)
    rng = np.random.default_rng(seed)
    hues = (rng.random() + np.arange(num_rooms) / num_rooms)[rng.permutation(num_rooms)] % 1.0
    combos = [(p, q) for p in PATTERNS for q in PERIODS]
    order = rng.permutation(len(combos))
    textures = []
    for k, hue in enumerate(hues):
        own = np.array(colorsys.hsv_to_rgb(float(hue), 0.7, 0.9)) * 255.0
        colour = (1.0 - similarity) * own + similarity * np.array(COMMON_COLOUR, dtype=float)
        pattern, period = combos[order[k % len(combos)]]
        textures.append(RoomTexture(tuple(float(v) for v in colour), pattern, period, similarity))
    return tuple(textures)


def pattern_mask(pattern: str, period: int, height: int, width: int) -> np.ndarray:
    """bool (height, width): the line cells of a pattern in room-local coordinates."""
    y, x = np.mgrid[:height, :width]
    if pattern == "horizontal":
        return y % period == 0
    if pattern == "vertical":
        return x % period == 0
    if pattern == "diagonal":
        return (y + x) % period == 0
    if pattern == "anti-diagonal":
        return (y - x) % period == 0
    if pattern == "checker":
        side = max(period - 1, 1)
        return (y // side + x // side) % 2 == 0
    raise ValueError(f"pattern must be one of {PATTERNS}, got {pattern!r}")


def floor_image(layout: RoomsLayout, textures) -> np.ndarray:
    """uint8 (H, W, 3): one pixel per cell; walls WALL_COLOUR, doors DOOR_COLOUR, room k its
    texture: colour x (1 - LINE_SHADE x mask), mask = (1 - s) own lines + s shared lines."""
    textures = tuple(textures)
    if len(textures) != layout.num_rooms or not all(isinstance(t, RoomTexture) for t in textures):
        raise ValueError(f"textures must hold one RoomTexture per room ({layout.num_rooms}), got {len(textures)} "
                         f"items")
    image = np.empty((*layout.shape, 3), dtype=float)
    image[layout.room_of == WALL] = WALL_COLOUR
    image[layout.room_of == DOOR] = DOOR_COLOUR
    s = layout.room_size
    shared = pattern_mask(*SHARED_PATTERN, s, s).astype(float)
    for k, texture in enumerate(textures):
        own = pattern_mask(texture.pattern, texture.period, s, s).astype(float)
        mask = (1.0 - texture.similarity) * own + texture.similarity * shared
        r0, c0 = layout.room_origin(k)
        image[r0:r0 + s, c0:c0 + s] = np.array(texture.colour) * (1.0 - LINE_SHADE * mask)[..., None]
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
