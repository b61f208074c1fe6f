"""Procedural room-lattice maps (docs/papers/farmap.md section 2.1), reimplemented from the
description, plus small deterministic maps for tests. Every map is a bool (H, W) grid, True = wall,
with a wall border and one 4-connected free region.

One draw of `generate_maps`: a lattice of size x size square rooms (size, room side in U{3..7}),
separated by walls of thickness U{1..3}; each pair of neighbouring rooms gets a door with
probability `p_connect` (a gap through the wall starting at the room's first row/column, of width
U{1..room-1}, one width for all vertical and one for all horizontal doors) and is merged (the whole
wall between them removed) with probability `p_merge`; then U{0..10} passes flip each boundary cell
(a cell with a 4-neighbour of the other kind) with probability `p_flip`. Every 4-connected free
component larger than 3 room^2 cells becomes one map: the component alone is free, cropped to its
bounding box and padded with a 1-cell wall. The maps of all draws are shuffled.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from neurobolts.plugins.checks import check_fraction, check_int

_FOUR = ndimage.generate_binary_structure(2, 1)


def _lattice(rng, size, room, thick, door_v, door_h, p_connect, p_merge) -> np.ndarray:
    """Wall grid of the room lattice with doors and merged rooms (True = wall)."""
    period = room + thick
    wall = np.ones((size * period + thick, size * period + thick), dtype=bool)
    starts = [thick + k * period for k in range(size)]  # first row/column of each room
    for r0 in starts:
        for c0 in starts:
            wall[r0:r0 + room, c0:c0 + room] = False
    for p, span in ((p_connect, None), (p_merge, room)):
        below = rng.random((size - 1, size)) < p  # opening between room (i, j) and (i + 1, j)
        beside = rng.random((size, size - 1)) < p  # opening between room (i, j) and (i, j + 1)
        for i, j in zip(*np.nonzero(below), strict=True):
            r, c = starts[i] + room, starts[j]
            wall[r:r + thick, c:c + (span or door_v)] = False
        for i, j in zip(*np.nonzero(beside), strict=True):
            r, c = starts[i], starts[j] + room
            wall[r:r + (span or door_h), c:c + thick] = False
    return wall


def _flip_boundaries(rng, wall: np.ndarray, p_flip: float) -> np.ndarray:
    """Flip each cell that differs from one of its 4-neighbours with probability p_flip."""
    differs = np.zeros_like(wall)
    differs[1:] |= wall[1:] != wall[:-1]
    differs[:-1] |= wall[:-1] != wall[1:]
    differs[:, 1:] |= wall[:, 1:] != wall[:, :-1]
    differs[:, :-1] |= wall[:, :-1] != wall[:, 1:]
    return wall ^ (differs & (rng.random(wall.shape) < p_flip))


def _components(wall: np.ndarray, min_area: int) -> list[np.ndarray]:
    """One cropped, wall-padded map per 4-connected free component with more than min_area cells."""
    labels, count = ndimage.label(~wall, structure=_FOUR)
    maps = []
    for label, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        free = labels[rows, cols] == label
        if free.sum() > min_area:
            maps.append(np.pad(~free, 1, constant_values=True))
    return maps


def generate_maps(num_draws: int = 200, seed: int = 13, *, p_connect: float = 0.25, p_merge: float = 0.25,
                  p_flip: float = 0.05) -> list[np.ndarray]:
    """Maps of `num_draws` random room lattices (module docstring), shuffled; deterministic per seed.
    The reference used 200 draws with seed 13 (its own random stream, so the maps differ)."""
    check_int("num_draws", num_draws, 1)
    check_int("seed", seed, 0)
    for name, value in (("p_connect", p_connect), ("p_merge", p_merge), ("p_flip", p_flip)):
        check_fraction(name, value)
    rng = np.random.default_rng(seed)
    maps = []
    for _ in range(num_draws):
        size, room, thick = (int(v) for v in rng.integers([3, 3, 1], [8, 8, 4]))
        door_v, door_h = (int(v) for v in rng.integers(1, room, size=2))
        num_flip = int(rng.integers(0, 11))
        wall = _lattice(rng, size, room, thick, door_v, door_h, p_connect, p_merge)
        for _ in range(num_flip):
            wall = _flip_boundaries(rng, wall, p_flip)
        maps += _components(wall, 3 * room * room)
    return [maps[i] for i in rng.permutation(len(maps))]


def two_rooms_map(room: int = 5, door: int = 1, *, thickness: int = 1, door_offset: int | None = None) -> np.ndarray:
    """Two `room` x `room` rooms side by side, joined by one door of width `door` through a wall of
    `thickness` cells (door centred unless `door_offset`, the door's first row inside the room, is
    given); shape (room + 2, 2 room + thickness + 2)."""
    room = check_int("room", room, 1)
    door = check_int("door", door, 1, room)
    thickness = check_int("thickness", thickness, 1)
    offset = (room - door) // 2 if door_offset is None else check_int("door_offset", door_offset, 0, room - door)
    wall = np.ones((room + 2, 2 * room + thickness + 2), dtype=bool)
    wall[1:room + 1, 1:room + 1] = False
    wall[1:room + 1, room + thickness + 1:-1] = False
    wall[1 + offset:1 + offset + door, room + 1:room + thickness + 1] = False
    return wall


def corridor_map(length: int, width: int = 1) -> np.ndarray:
    """A straight horizontal corridor of `length` x `width` free cells; shape (width + 2, length + 2)."""
    length = check_int("length", length, 1)
    width = check_int("width", width, 1)
    return np.pad(np.zeros((width, length), dtype=bool), 1, constant_values=True)
