"""The character grid format of Map Induction and its room labels (docs/papers/map_induction.md
sections 2.1 and 3): the int8 cell constants shared by the worlds, the observation models and the
induction code, a reader and a writer for map files, and the room id grid of a map.

Map files. Two header lines, then one line per row of digits: 0 = empty, 2 = reward, 3 = wall
(7 and 8 = coloured walls), 5 = the agent's start. 6 (unobserved) belongs to the format of an
agent's observed map and is refused in a world, which must be fully known. The header is kept
verbatim (`MapInductionWorld.header`) and written back unchanged; a header line that holds exactly two
integers "H W", "H,W" or "HxW" must match the body's rows and columns (the reference files hold "0"
and "0", which are not checked). Lines are counted from 1 including the header, columns from 1;
trailing whitespace (and "\\r") of a line is ignored, as are empty lines after the last row. Walls 7
and 8 become WALL in the grid and keep their character in `MapInductionWorld.wall_colours`; the
agent's cell becomes EMPTY and `start`. Errors: an unknown character (named with its line and
column), ragged rows (every line whose length differs from the first row's), no reward, no agent
or more than one, a missing file. A world whose rewards cannot all be reached from the start is
refused by `MapInductionWorld` itself.

Room labels. `rooms` is an int grid: ROOM_WALL (-1) on walls, ROOM_DOOR (-2) on door cells, a room
id k >= 0 on every other free cell; ids are numbered in row-major order of each room's first cell.
- With a companion rooms file (`<stem>_rooms<suffix>` beside the map, or `rooms_path`): the same
  size as the map, any non-whitespace characters; on the map's free cells, each 4-connected region
  of one character is a room, except that the character DOOR_LABEL ("+") marks door cells. The
  characters on the map's wall cells are ignored.
- Without one (`derive_rooms`): a free cell is door-like if the cells above and below it are both
  walls (or off the map), or the cells left and right of it are. The rooms are the 4-connected
  components of the free cells that are not door-like. Each 4-connected group of door-like cells
  that touches exactly one room joins that room (a nook or a gap between an obstacle and a wall);
  the other groups (doorways and corridors between rooms) are doors.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

if TYPE_CHECKING:
    from .worlds import MapInductionWorld

# cell values of the int8 grids (the digits of the file format)
EMPTY = 0
REWARD = 2
WALL = 3
AGENT = 5
UNOBSERVED = 6
COLOURED_WALLS = (7, 8)
WALL_CHARACTERS = "378"
WORLD_CHARACTERS = "023578"  # what a world file may hold
CHARACTER_NAMES = "0 (empty), 2 (reward), 3, 7 or 8 (wall), 5 (agent)"

# values of the room id grid
ROOM_WALL = -1
ROOM_DOOR = -2
DOOR_LABEL = "+"  # marks door cells in a rooms file
ROOM_LABELS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"  # written for rooms 0, 1, ...

HEADER_LINES = 2
_SHAPE_HEADER = re.compile(r"^\s*(\d+)\s*(?:,|x|X|\s)\s*(\d+)\s*$")
_FOUR = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)

Cell = tuple[int, int]


def _body_lines(text: str, name: str, what: str) -> tuple[tuple[str, str], list[str]]:
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) <= HEADER_LINES:
        raise ValueError(f"{name}: a {what} needs {HEADER_LINES} header lines and at least one row, got "
                         f"{len(lines)} line(s)")
    rows = lines[HEADER_LINES:]
    width = len(rows[0])
    bad = [(HEADER_LINES + 1 + i, len(row)) for i, row in enumerate(rows) if len(row) != width]
    if bad:
        listed = ", ".join(f"line {line} has {length}" for line, length in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise ValueError(f"{name}: ragged rows: line {HEADER_LINES + 1} (the first row) has {width} characters, "
                         f"{listed}{more}")
    return (lines[0], lines[1]), rows


def _check_header(header: tuple[str, str], shape: tuple[int, int], name: str) -> None:
    for i, line in enumerate(header):
        match = _SHAPE_HEADER.match(line)
        if match and (int(match.group(1)), int(match.group(2))) != shape:
            raise ValueError(f"{name}, line {i + 1}: the header gives the size {match.group(1)} x {match.group(2)} "
                             f"but the map has {shape[0]} rows x {shape[1]} columns")


def parse_grid(text: str, name: str = "<map>", rooms_text: str | None = None,
               start: Cell | None = None) -> MapInductionWorld:
    """The world of a map in the character format (module docstring). `name` names the map in
    errors; `rooms_text` is the content of its rooms file (None: rooms derived); `start` is the
    start cell of a map without an agent 5 (refused for a map that has one)."""
    from .worlds import MapInductionWorld  # worlds.py imports the constants of this module

    header, rows = _body_lines(text, name, "map")
    for i, row in enumerate(rows):
        for j, ch in enumerate(row):
            if ch not in WORLD_CHARACTERS:
                why = ("6 (unobserved) belongs to an observed map; a world must be fully known" if ch == "6"
                       else f"a map holds only {CHARACTER_NAMES}")
                raise ValueError(f"{name}, line {HEADER_LINES + 1 + i}, column {j + 1}: unknown character {ch!r}; "
                                 f"{why}")
    chars = np.array([list(row) for row in rows])
    _check_header(header, chars.shape, name)
    codes = chars.view(np.uint32).reshape(chars.shape) - ord("0")
    agents = [(int(r), int(c)) for r, c in np.argwhere(codes == AGENT)]
    if len(agents) > 1:
        raise ValueError(f"{name}: a map holds at most one agent 5, got {len(agents)} at "
                         f"{_lines_and_columns(agents)}")
    if agents and start is not None:
        raise ValueError(f"{name}: start must be None for a map with an agent 5 (at {_lines_and_columns(agents)}), "
                         f"got {tuple(start)!r}")
    if not agents and start is None:
        raise ValueError(f"{name}: no agent 5 in the map and no start given; put a 5 on the start cell or pass "
                         "start=(row, col)")
    wall = np.isin(codes, [WALL, *COLOURED_WALLS])
    grid = np.where(wall, WALL, np.where(codes == REWARD, REWARD, EMPTY)).astype(np.int8)
    if not (grid == REWARD).any():
        raise ValueError(f"{name}: the map holds no reward 2; a world needs at least one")
    wall_colours = np.where(wall, codes, 0).astype(np.int8)
    rooms = derive_rooms(grid) if rooms_text is None else rooms_from_labels(
        grid, _rooms_chars(rooms_text, f"{name} (rooms)", grid.shape))
    return MapInductionWorld(grid=grid, rooms=rooms, start=agents[0] if agents else tuple(start), name=name,
                             header=header, wall_colours=wall_colours)


def _lines_and_columns(cells: list[Cell]) -> str:
    return ", ".join(f"line {r + HEADER_LINES + 1} column {c + 1}" for r, c in cells)


def _rooms_chars(text: str, name: str, shape: tuple[int, int]) -> np.ndarray:
    _, rows = _body_lines(text, name, "rooms map")
    for i, row in enumerate(rows):
        for j, ch in enumerate(row):
            if ch.isspace():
                raise ValueError(f"{name}, line {HEADER_LINES + 1 + i}, column {j + 1}: a rooms map holds no "
                                 "whitespace inside a row")
    chars = np.array([list(row) for row in rows])
    if chars.shape != shape:
        raise ValueError(f"{name}: the rooms map must have the map's size {shape[0]} x {shape[1]}, got "
                         f"{chars.shape[0]} x {chars.shape[1]}")
    return chars


def _row_major_ids(labels: np.ndarray) -> np.ndarray:
    """Renumber the positive labels of `labels` 0, 1, ... in row-major order of their first cell;
    0 becomes -1."""
    flat = labels.ravel()
    present, first = np.unique(flat, return_index=True)
    keep = present > 0
    order = present[keep][np.argsort(first[keep])]
    lookup = np.full(int(flat.max()) + 1, -1, dtype=np.int64)
    lookup[order] = np.arange(order.size)
    return lookup[labels]


def rooms_from_labels(grid: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """int (H, W) room ids from a (H, W) array of label characters (module docstring): 4-connected
    regions of one label on the free cells of `grid` are rooms, DOOR_LABEL cells are doors."""
    free = grid != WALL
    regions = np.zeros(grid.shape, dtype=np.int64)
    count = 0
    for label in np.unique(labels[free & (labels != DOOR_LABEL)]):
        components, n = ndimage.label(free & (labels == label), structure=_FOUR)
        regions[components > 0] = components[components > 0] + count
        count += n
    rooms = _row_major_ids(regions)
    rooms[free & (labels == DOOR_LABEL)] = ROOM_DOOR
    rooms[~free] = ROOM_WALL
    return rooms


def derive_rooms(grid: np.ndarray) -> np.ndarray:
    """int (H, W) room ids of a map without a rooms file (module docstring: door-like cells)."""
    blocked = np.pad(grid == WALL, 1, constant_values=True)
    free = grid != WALL
    door_like = free & ((blocked[:-2, 1:-1] & blocked[2:, 1:-1]) | (blocked[1:-1, :-2] & blocked[1:-1, 2:]))
    regions, _ = ndimage.label(free & ~door_like, structure=_FOUR)
    groups, n_groups = ndimage.label(door_like, structure=_FOUR)
    padded = np.pad(regions, 1)
    for g in range(1, n_groups + 1):
        cells = np.argwhere(groups == g) + 1
        touching = {int(padded[r + dr, c + dc]) for r, c in cells for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))}
        touching.discard(0)
        if len(touching) == 1:
            regions[groups == g] = touching.pop()
    rooms = _row_major_ids(regions)
    rooms[door_like & (regions == 0)] = ROOM_DOOR
    rooms[~free] = ROOM_WALL
    return rooms


def rooms_path_for(path: str | Path) -> Path:
    """The companion rooms file of a map file: `<stem>_rooms<suffix>` in the same folder."""
    path = Path(path)
    return path.with_name(f"{path.stem}_rooms{path.suffix}")


def read_grid(path: str | Path, rooms_path: str | Path | None = None, start: Cell | None = None) -> MapInductionWorld:
    """The world of the map file at `path` (module docstring), named by the file's stem. Its rooms
    come from `rooms_path` if given (which must exist), else from `<stem>_rooms<suffix>` beside it
    if that exists, else from `derive_rooms`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"map file not found: {str(path)!r}")
    if rooms_path is not None:
        rooms_path = Path(rooms_path)
        if not rooms_path.is_file():
            raise FileNotFoundError(f"rooms file not found: {str(rooms_path)!r}")
    elif rooms_path_for(path).is_file():
        rooms_path = rooms_path_for(path)
    rooms_text = None if rooms_path is None else rooms_path.read_text()
    return parse_grid(path.read_text(), name=path.stem, rooms_text=rooms_text, start=start)


def format_grid(world: MapInductionWorld) -> str:
    """The map file text of `world`: its header verbatim, walls in their colour, the start as 5."""
    codes = world.grid.astype(np.int64)
    if world.wall_colours is not None:
        codes = np.where(world.grid == WALL, world.wall_colours, codes)
    codes[world.start] = AGENT
    return "\n".join([*world.header, *("".join(str(v) for v in row) for row in codes)]) + "\n"


def format_rooms(world: MapInductionWorld) -> str:
    """The rooms file text of `world`: room k as ROOM_LABELS[k % 52], doors as DOOR_LABEL, walls as
    3 (adjacent rooms with the same label would merge, so at most 52 rooms are written)."""
    if world.rooms.max() >= len(ROOM_LABELS):
        raise ValueError(f"a rooms file can label at most {len(ROOM_LABELS)} rooms, world {world.name!r} has "
                         f"{int(world.rooms.max()) + 1}")
    labels = np.array(list(ROOM_LABELS))[np.maximum(world.rooms, 0)]
    labels[world.rooms == ROOM_DOOR] = DOOR_LABEL
    labels[world.rooms == ROOM_WALL] = str(WALL)
    return "\n".join([*world.header, *("".join(row) for row in labels)]) + "\n"


def write_grid(world: MapInductionWorld, path: str | Path, rooms: bool = True) -> Path:
    """Write `world` as a map file at `path` (and, if `rooms`, its rooms file beside it, so that
    `read_grid(path)` gives back the same grid, rooms, start, header and wall colours). Returns path."""
    path = Path(path)
    path.write_text(format_grid(world))
    if rooms:
        rooms_path_for(path).write_text(format_rooms(world))
    return path
