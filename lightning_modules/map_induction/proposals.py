"""Submap proposals of Map Induction (docs/papers/map_induction.md section 2.3) and the reading of an
observed map shared by the induction code.

Observed map (`known`). An int (H, W) array of the codes of spec 2.1: EMPTY, REWARD, WALL, AGENT (read
as EMPTY: the agent stands on a free cell) and UNOBSERVED for cells not seen yet. Step 1 of spec 2.3
takes the observed map "with rewards filled in": a caller that wants collected rewards to shape the
proposals passes `restore_rewards(known, collected)` (InductionState.update does; the posterior, not
the proposals, is told what was collected; `collected` is None, a bool (H, W) mask or (row, col)
cells, read by `collected_mask`). Two observed values CONFLICT when exactly one of them is a wall;
rewards are ignored (a reward and an empty cell agree), as everywhere in the induction (spec 2.4).

Tile shapes (`tile_shapes`). The reference's default cuts the longer axis into `frag_size` = 5 parts:
(H // 5) x W if H >= W, else H x (W // 5); with `all_factors` every pair (h, w) of divisors of H and W
with h, w >= min_size (the whole map excluded), smallest area first. Shapes given in `extra` come
first. For a room lattice (neurobolts.datamodules.gridworld.rooms: rooms of side s, one-cell walls,
map (rows (s + 1) + 1) x (cols (s + 1) + 1)), `room_tile_grid(s)` gives the room-sized tiling of the
CPU setup (spec 6): tiles of (s + 1) x (s + 1) starting at origin (1, 1), so that each tile is one
room plus the wall (with its door) to its right and the wall below it, the shared walls are in
exactly one tile, and tile (i, j) is room (i, j). The map's top row and left column (outer walls)
belong to no tile. Such a tile is not symmetric about the room's centre (its walls are on two sides
only), so its reflections mirror the s x s room block and keep the trailing wall column / row in place
(`mirror_size` = (s, s), hypotheses.py): the reflected tile is the mirrored room inside the lattice's
walls, as in a world whose room template is mirrored. Known limits of this tiling: the tiles of the
last row / column of rooms end in the map's outer wall, which has no door, so they conflict with the
tiles of inner rooms (separate proposals, counted by the cap, even for identical rooms), and a tile
of an inner room placed in the last row / column brings its door into the outer wall.

Tile grid. Tiles are cut without overlap from `origin` (row, col): tile (i, j) covers rows
r0 + i h .. r0 + (i + 1) h - 1 and columns c0 + j w .. c0 + (j + 1) w - 1; only complete tiles are
used, so cells before the origin or past the last complete tile belong to no tile (`tile_positions`).

Proposals (`propose`). The tiles, in row-major order, with fewer than `max_unobserved` (75 %)
unobserved cells are kept. They are de-duplicated in that order: a tile that agrees (no conflict)
with an already kept proposal wherever both are observed is merged into the first such proposal, and
"the later replaces the earlier" (spec 2.3) cell by cell: merged = the later tile where it is
observed, the earlier proposal elsewhere (so the later supplies the cells the earlier lacks and wins
reward-versus-empty differences). Then the proposals are ordered by their number of observed cells,
most first (ties: first kept first), and the first `max_proposals` are returned as an int8
(n, h, w) array with UNOBSERVED where unknown (n may be 0). Reflected variants are added in the
assignment step (hypotheses.py, spec 2.4).

numpy only; no torch, no Lightning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurobolts.datamodules.map_induction.grid_format import AGENT, EMPTY, REWARD, UNOBSERVED, WALL
from neurobolts.plugins.checks import check_int, check_number, check_positive_int, is_integer

KNOWN_CODES = (EMPTY, REWARD, WALL, AGENT, UNOBSERVED)


def as_known_map(known: Any, name: str = "known") -> np.ndarray:
    """A validated int8 copy of an observed map (module docstring), AGENT read as EMPTY. ValueError
    unless it is a non-empty 2-D array of integers in KNOWN_CODES."""
    array = np.asarray(known)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (H, W), got shape {array.shape}")
    if array.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers (the codes {KNOWN_CODES}), got dtype {array.dtype}")
    bad = ~np.isin(array, KNOWN_CODES)
    if bad.any():
        cell = tuple(int(v) for v in np.argwhere(bad)[0])
        raise ValueError(f"{name} must hold only the codes {KNOWN_CODES} (empty, reward, wall, agent, "
                         f"unobserved), got {int(array[cell])} at cell {cell}")
    out = array.astype(np.int8)
    out[out == AGENT] = EMPTY
    return out


def conflicts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """bool mask (broadcast shape): both cells observed and exactly one of them a wall."""
    return (a != UNOBSERVED) & (b != UNOBSERVED) & ((a == WALL) != (b == WALL))


def collected_mask(collected: Any, shape: tuple[int, int]) -> np.ndarray:
    """bool (H, W): the collected reward cells, given as None (none), a bool mask of the map's shape or
    integer (row, col) cells (an (n, 2) array or a list of pairs)."""
    if collected is None:
        return np.zeros(shape, dtype=bool)
    array = np.asarray(collected)
    if array.dtype == bool:
        if array.shape != shape:
            raise ValueError(f"collected must be a bool mask of the map's shape {shape}, got shape "
                             f"{array.shape}")
        return array.copy()
    if array.size == 0:
        return np.zeros(shape, dtype=bool)
    pairs = array.dtype.kind in "iu" and array.ndim in (1, 2) and array.shape[-1] == 2
    cells = array.reshape(-1, 2) if pairs else None
    if cells is None or (cells < 0).any() or (cells >= np.array(shape)).any():
        raise ValueError(f"collected must be a bool (H, W) mask or integer (row, col) cells inside the "
                         f"{shape[0]}x{shape[1]} map, got {collected!r}")
    mask = np.zeros(shape, dtype=bool)
    mask[cells[:, 0], cells[:, 1]] = True
    return mask


def restore_rewards(known: Any, collected: Any) -> np.ndarray:
    """The observed map "with rewards filled in" (spec 2.3 step 1): a validated copy of `known` with
    REWARD on every collected cell (the agent stood there, so the cell was seen)."""
    known = as_known_map(known)
    known[collected_mask(collected, known.shape)] = REWARD
    return known


def _check_pair(name: str, value: Any, minimum: int) -> tuple[int, int]:
    try:
        first, second = value
    except (TypeError, ValueError):
        first = second = None
    if not (is_integer(first) and is_integer(second) and first >= minimum and second >= minimum):
        raise ValueError(f"{name} must be a pair of integers >= {minimum}, got {value!r}")
    return int(first), int(second)


def check_tile_shape(tile_shape: Any) -> tuple[int, int]:
    """(h, w) with h, w >= 1 integers."""
    return _check_pair("tile_shape", tile_shape, 1)


def check_origin(origin: Any) -> tuple[int, int]:
    """(row, col) with row, col >= 0 integers."""
    return _check_pair("origin", origin, 0)


def tile_positions(shape: tuple[int, int], tile_shape: Any, origin: Any = (0, 0)) -> np.ndarray:
    """int (T, 2): the top-left cells of the complete tiles, row-major (module docstring). ValueError
    when no tile fits (a tile larger than the map from the origin)."""
    (h, w), (r0, c0) = check_tile_shape(tile_shape), check_origin(origin)
    H, W = shape
    rows, cols = (H - r0) // h if H > r0 else 0, (W - c0) // w if W > c0 else 0
    if rows < 1 or cols < 1:
        raise ValueError(f"tile_shape {(h, w)} from origin {(r0, c0)} must fit in the {H}x{W} map, "
                         f"got no complete tile")
    ii, jj = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    return np.stack([r0 + h * ii.ravel(), c0 + w * jj.ravel()], axis=1)


def tile_shapes(H: int, W: int, frag_size: int = 5, min_size: int = 3, all_factors: bool = False,
                extra: Any = ()) -> list[tuple[int, int]]:
    """Candidate tile shapes of an H x W map (module docstring): `extra` shapes first, then the
    frag_size cut of the longer axis, or with `all_factors` every divisor pair >= min_size."""
    H, W = check_positive_int("H", H), check_positive_int("W", W)
    frag_size = check_positive_int("frag_size", frag_size)
    min_size = check_positive_int("min_size", min_size)
    shapes = [check_tile_shape(shape) for shape in extra]
    for h, w in shapes:
        if h > H or w > W:
            raise ValueError(f"extra tile shape {(h, w)} must fit in the {H}x{W} map")
    if all_factors:
        pairs = [(h, w) for h in range(min_size, H + 1) if H % h == 0
                 for w in range(min_size, W + 1) if W % w == 0 and (h, w) != (H, W)]
        shapes += sorted(pairs, key=lambda s: (s[0] * s[1], s))
    else:
        shape = (H // frag_size, W) if H >= W else (H, W // frag_size)
        if min(shape) < 1:
            raise ValueError(f"frag_size must be <= the longer side {max(H, W)} of the map, got {frag_size}")
        shapes.append(shape)
    return list(dict.fromkeys(shapes))


def room_tile_grid(room_size: int) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(tile_shape, origin, mirror_size) of the room-sized tiling of a room lattice with rooms of side
    s = room_size: ((s + 1, s + 1), (1, 1), (s, s)), each tile one room with the walls to its right
    and below; `mirror_size` makes the reflections mirror the room inside its walls (module docstring
    and hypotheses.py)."""
    s = check_positive_int("room_size", room_size)
    return (s + 1, s + 1), (1, 1), (s, s)


def cut_tiles(known: np.ndarray, tile_shape: Any, origin: Any = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """(tiles int8 (T, h, w), positions (T, 2)): the complete tiles of an observed map, row-major."""
    h, w = check_tile_shape(tile_shape)
    positions = tile_positions(known.shape, (h, w), origin)
    tiles = np.stack([known[r:r + h, c:c + w] for r, c in positions])
    return tiles, positions


def propose(known: Any, tile_shape: Any, origin: Any = (0, 0), max_unobserved: float = 0.75,
            max_proposals: int = 3) -> np.ndarray:
    """Submap proposals (module docstring): int8 (n, h, w), n <= max_proposals, most observed first."""
    known = as_known_map(known)
    max_unobserved = check_number("max_unobserved", max_unobserved, 0, 1, low_open=True)
    max_proposals = check_int("max_proposals", max_proposals, 1)
    tiles, _ = cut_tiles(known, tile_shape, origin)
    unobserved = (tiles == UNOBSERVED).mean(axis=(1, 2))
    kept: list[np.ndarray] = []
    for tile in tiles[unobserved < max_unobserved]:
        for index, proposal in enumerate(kept):
            if not conflicts(tile, proposal).any():
                kept[index] = np.where(tile != UNOBSERVED, tile, proposal)
                break
        else:
            kept.append(tile.copy())
    observed = [int((p != UNOBSERVED).sum()) for p in kept]
    order = sorted(range(len(kept)), key=lambda i: -observed[i])[:max_proposals]
    h, w = tiles.shape[1:]
    return np.stack([kept[i] for i in order]) if order else np.empty((0, h, w), dtype=np.int8)
