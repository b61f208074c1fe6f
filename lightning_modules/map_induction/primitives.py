"""The primitive library of map programs (docs/papers/map_induction.md section 2.4; oracle 7.1).

Each primitive takes a 2-D grid (any dtype; map-induction grids are int8 of the codes of spec 2.1)
and returns a NEW array (never a view of its input, so editing a result never edits the submap it
came from):

- `reflect_x(A)`: mirror left-right (columns reversed); `reflect_y(A)`: mirror up-down (rows reversed).
- `rotate(A, k=1)`: k quarter turns counter-clockwise (k < 0 turns clockwise; k = 4 is the identity).
- `duplicate_x(A, k)`: k copies side by side, shape (r, k c); `duplicate_y(A, k)`: k copies stacked,
  shape (k r, c).
- `scale_u(A, f)`, `scale_x(A, f)`, `scale_y(A, f)`: nearest-neighbour rescaling of both axes, the
  columns or the rows by a factor f > 0. The new size is round(n f) (at least 1) and new index i
  samples old index floor((i + 0.5) / f), clipped to the grid: an integer f repeats every cell f
  times, so scale_u(A, 2) doubles both axes exactly.
- `add_wall(A, cell)` / `remove_wall(A, cell)`: a copy with `cell` (row, col) set to WALL / EMPTY.

The main inference path (proposals.py, hypotheses.py) uses tiling and reflection; the others complete
the library of spec 2.4 for programs built by hand. numpy only; no torch, no Lightning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurobolts.datamodules.map_induction.grid_format import EMPTY, WALL
from neurobolts.plugins.checks import check_int, check_positive, is_integer


def as_grid(A: Any, name: str = "A") -> np.ndarray:
    """`A` as a numpy array; ValueError unless it is a non-empty 2-D array."""
    array = np.asarray(A)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {array.shape}")
    return array


def reflect_x(A: Any) -> np.ndarray:
    """Mirror left-right: column j goes to column c - 1 - j."""
    return as_grid(A)[:, ::-1].copy()


def reflect_y(A: Any) -> np.ndarray:
    """Mirror up-down: row i goes to row r - 1 - i."""
    return as_grid(A)[::-1, :].copy()


def rotate(A: Any, k: int = 1) -> np.ndarray:
    """k quarter turns counter-clockwise (np.rot90 convention); any integer k."""
    return np.rot90(as_grid(A), check_int("k", k)).copy()


def duplicate_x(A: Any, k: int) -> np.ndarray:
    """k copies of A side by side: shape (r, k c)."""
    return np.tile(as_grid(A), (1, check_int("k", k, 1)))


def duplicate_y(A: Any, k: int) -> np.ndarray:
    """k copies of A stacked vertically: shape (k r, c)."""
    return np.tile(as_grid(A), (check_int("k", k, 1), 1))


def _nearest_indices(n: int, factor: float) -> np.ndarray:
    size = max(1, int(round(n * factor)))
    return np.minimum(np.floor((np.arange(size) + 0.5) / factor).astype(np.intp), n - 1)


def scale_x(A: Any, f: float) -> np.ndarray:
    """Nearest-neighbour rescaling of the columns by f > 0 (module docstring)."""
    grid = as_grid(A)
    return grid[:, _nearest_indices(grid.shape[1], check_positive("f", f))]


def scale_y(A: Any, f: float) -> np.ndarray:
    """Nearest-neighbour rescaling of the rows by f > 0 (module docstring)."""
    grid = as_grid(A)
    return grid[_nearest_indices(grid.shape[0], check_positive("f", f))]


def scale_u(A: Any, f: float) -> np.ndarray:
    """Nearest-neighbour rescaling of both axes by f > 0: scale_u(A, 2) has shape (2 r, 2 c)."""
    return scale_x(scale_y(A, f), f)


def _check_cell(grid: np.ndarray, cell: Any) -> tuple[int, int]:
    try:
        r, c = cell
    except (TypeError, ValueError):
        r = c = None
    if not (is_integer(r) and is_integer(c) and 0 <= r < grid.shape[0] and 0 <= c < grid.shape[1]):
        raise ValueError(f"cell must be a (row, col) pair of integers inside the "
                         f"{grid.shape[0]}x{grid.shape[1]} grid, got {cell!r}")
    return int(r), int(c)


def add_wall(A: Any, cell: Any) -> np.ndarray:
    """A copy of A with `cell` (row, col) set to WALL."""
    grid = as_grid(A).copy()
    grid[_check_cell(grid, cell)] = WALL
    return grid


def remove_wall(A: Any, cell: Any) -> np.ndarray:
    """A copy of A with `cell` (row, col) set to EMPTY (whatever it held)."""
    grid = as_grid(A).copy()
    grid[_check_cell(grid, cell)] = EMPTY
    return grid
