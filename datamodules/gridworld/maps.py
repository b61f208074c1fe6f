"""The 300 FARMap reference maps shipped with the package, and loading of map files in the same
format (docs/papers/farmap.md sections 3 and 7.1).

`data/farmap_maps.npz` is the reference's released map set (MIT, Copyright (c) 2024 Jaedong Hwang;
provenance and licence in `data/LICENSE-farmap-maps.txt`): arrays `maps` uint8 (N, Hmax, Wmax) with
map i top-left aligned in `maps[i, :H_i, :W_i]` (0 = free, 37 = wall, 255 = padding), `shapes`
(N, 2) = (H_i, W_i), and optionally `free_cells`, `wall_cells`, `visible_area_scale3` (N,).

A map is returned as a bool (H, W) grid, True = wall, unscaled.
"""

from __future__ import annotations

import functools
import os
import zipfile
from importlib import resources
from typing import NamedTuple

import numpy as np

from neurobolts.plugins.checks import check_int

NUM_REFERENCE_MAPS = 300
FREE, WALL, PADDING = 0, 37, 255
REFERENCE_FILE = "farmap_maps.npz"
REQUIRED_KEYS = ("maps", "shapes")
SUMMARY_KEYS = ("free_cells", "wall_cells", "visible_area_scale3")


class MapTable(NamedTuple):
    """Per-map summary of the reference set (read-only int32 arrays of length 300)."""

    shapes: np.ndarray  # (N, 2) unscaled (H, W)
    free_cells: np.ndarray
    wall_cells: np.ndarray
    visible_area_scale3: np.ndarray  # free + wall cells 4-adjacent to free, on the x3 map


def visible_area(wall: np.ndarray) -> int:
    """Free cells plus wall cells 4-adjacent to a free cell: the coverage denominator (section 4)."""
    free = ~np.asarray(wall, dtype=bool)
    near = np.zeros_like(free)
    near[1:] |= free[:-1]
    near[:-1] |= free[1:]
    near[:, 1:] |= free[:, :-1]
    near[:, :-1] |= free[:, 1:]
    return int(free.sum() + (near & ~free).sum())


def _read(source, where: str) -> list[np.ndarray]:
    """Validate the archive `source` (a path or a binary file) and return its maps; `where` names
    the file in messages."""
    try:
        archive = np.load(source, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an archive")
        with archive:
            keys = sorted(archive.files)
            arrays = {key: archive[key] for key in (*REQUIRED_KEYS, *SUMMARY_KEYS) if key in keys}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"maps file {where} must be a NumPy .npz archive of numeric arrays, got an "
                         f"unreadable file ({err})") from err
    missing = [key for key in REQUIRED_KEYS if key not in keys]
    if missing:
        raise ValueError(f"maps file {where} must hold the arrays {list(REQUIRED_KEYS)}, got keys {keys!r} "
                         f"(missing {missing})")
    return _validate(arrays, f"maps file {where}")


def _validate(arrays: dict[str, np.ndarray], where: str) -> list[np.ndarray]:
    stack, shapes = arrays["maps"], arrays["shapes"]
    if stack.dtype != np.uint8 or stack.ndim != 3:
        raise ValueError(f"{where}: maps must be a uint8 array (N, Hmax, Wmax), got {stack.dtype} {stack.shape}")
    n, hmax, wmax = stack.shape
    if not np.issubdtype(shapes.dtype, np.integer) or shapes.shape != (n, 2):
        raise ValueError(f"{where}: shapes must be an integer array of shape ({n}, 2), got {shapes.dtype} {shapes.shape}")
    grids = []
    for i, (h, w) in enumerate(shapes.tolist()):
        if not (3 <= h <= hmax and 3 <= w <= wmax):
            raise ValueError(f"{where}: shapes[{i}] must be (H, W) with 3 <= H <= {hmax} and 3 <= W <= {wmax}, "
                             f"got {(h, w)!r}")
        grid, outside = stack[i, :h, :w], np.ones((hmax, wmax), dtype=bool)
        outside[:h, :w] = False
        values = np.unique(grid).tolist()
        if not set(values) <= {FREE, WALL}:
            raise ValueError(f"{where}: maps[{i}] must hold only {FREE} (free) and {WALL} (wall) inside "
                             f"shapes[{i}] = {(h, w)}, got values {values!r}")
        if np.any(stack[i][outside] != PADDING):
            raise ValueError(f"{where}: maps[{i}] must be {PADDING} (padding) outside shapes[{i}] = {(h, w)}, "
                             f"got values {np.unique(stack[i][outside]).tolist()!r}")
        wall = grid == WALL
        border = np.concatenate([wall[0], wall[-1], wall[:, 0], wall[:, -1]])
        if not border.all():
            raise ValueError(f"{where}: maps[{i}] border must be all wall ({WALL}), got "
                             f"{int((~border).sum())} free border cells")
        if wall.all():
            raise ValueError(f"{where}: maps[{i}] must have at least one free cell, got none")
        grids.append(wall)
    expected = {"free_cells": lambda g: int((~g).sum()), "wall_cells": lambda g: int(g.sum()),
                "visible_area_scale3": lambda g: visible_area(g.repeat(3, axis=0).repeat(3, axis=1))}
    for key, count in expected.items():
        if key not in arrays:
            continue
        got = arrays[key]
        if not np.issubdtype(got.dtype, np.integer) or got.shape != (n,):
            raise ValueError(f"{where}: {key} must be an integer array of shape ({n},), got {got.dtype} {got.shape}")
        for i, grid in enumerate(grids):
            if int(got[i]) != count(grid):
                raise ValueError(f"{where}: {key}[{i}] must be {count(grid)} (counted on maps[{i}]), got {int(got[i])}")
    return grids


def load_maps_file(path: str | os.PathLike) -> list[np.ndarray]:
    """The maps of a user-given .npz file in the reference format (module docstring), as bool (H, W)
    grids (True = wall). Raises ValueError naming the file, the array or map and what was expected."""
    return _read(os.fspath(path), repr(os.fspath(path)))


@functools.lru_cache(maxsize=1)
def _reference() -> tuple[tuple[np.ndarray, ...], MapTable]:
    with resources.files(__package__).joinpath("data", REFERENCE_FILE).open("rb") as f:
        archive = np.load(f, allow_pickle=False)
        arrays = {key: archive[key] for key in archive.files}
    grids = tuple(_validate(arrays, f"packaged {REFERENCE_FILE}"))
    for grid in grids:
        grid.flags.writeable = False
    table = MapTable(*(arrays[key].astype(np.int32) for key in ("shapes", *SUMMARY_KEYS)))
    for array in table:
        array.flags.writeable = False
    return grids, table


def reference_map(map_id: int) -> np.ndarray:
    """Reference map `map_id` (0..299, the reference script's `-env` id) as a new bool (H, W) grid,
    True = wall, unscaled."""
    map_id = check_int("map_id", map_id, 0, NUM_REFERENCE_MAPS - 1)
    return _reference()[0][map_id].copy()


def reference_map_table() -> MapTable:
    """`MapTable(shapes, free_cells, wall_cells, visible_area_scale3)` of the 300 reference maps."""
    return _reference()[1]
