"""Shortest paths on 4-connected grids (docs/papers/farmap.md sections 2.5 and 5.2).

The reference planned with an element-wise torch BFS that took 95 % of its run time; here the grid
becomes a sparse graph (numpy) and scipy.sparse.csgraph searches it breadth-first in C; the
distances follow from the search order (numpy). One search gives the
distances to every cell, so many subgoal candidates are scored with one call.

`passable` is a bool (H, W) grid (True = may be entered). The start cell always counts as passable
(the agent stands on it, even where its own map is unsure). Distances are int32, -1 = unreachable.
A move to a neighbour sets the heading to the move direction (headings.py) and there is no turning
cost, so shortest paths over (cell, heading) are shortest paths over cells; a required final
heading g only means the last move enters the goal from the cell behind it, goal - DELTAS[g].
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order

from neurobolts.plugins.checks import check_choice, is_integer

from .headings import DELTAS, HEADINGS, direction

Cell = tuple[int, int]
Pose = tuple[int, int, int]


def _grid(passable) -> np.ndarray:
    passable = np.asarray(passable)
    if passable.ndim != 2 or passable.dtype != bool or passable.size == 0:
        raise ValueError(f"passable must be a non-empty 2-D bool grid, got {passable.dtype} {passable.shape}")
    return passable


def _cell(name: str, cell, shape) -> Cell:
    if len(cell) != 2 or not all(is_integer(v) for v in cell) or not (0 <= cell[0] < shape[0] and 0 <= cell[1] < shape[1]):
        raise ValueError(f"{name} must be a cell (row, col) inside the {shape[0]}x{shape[1]} grid, got {tuple(cell)!r}")
    return int(cell[0]), int(cell[1])


def _graph(grid: np.ndarray, sources: np.ndarray) -> csr_matrix:
    """The 4-neighbour graph of the True cells of `grid` (node = flat index) plus a root node H*W
    with an edge to each source, built straight in CSR form (each row's columns already sorted)."""
    H, W = grid.shape
    n = H * W
    edges = np.zeros((H, W, 4), dtype=bool)  # to the cell above, left, right, below
    edges[1:, :, 0] = grid[1:] & grid[:-1]
    edges[:, 1:, 1] = grid[:, 1:] & grid[:, :-1]
    edges[:, :-1, 2] = grid[:, :-1] & grid[:, 1:]
    edges[:-1, :, 3] = grid[:-1] & grid[1:]
    edges = edges.reshape(n, 4)
    neighbours = np.arange(n)[:, None] + np.array([-W, -1, 1, W])
    indices = np.concatenate([neighbours[edges], sources])
    indptr = np.concatenate([[0], np.cumsum(np.count_nonzero(edges, axis=1)), [indices.size]])
    return csr_matrix((np.ones(indices.size), indices, indptr), shape=(n + 1, n + 1))


def _search(passable: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Breadth-first search from the nearest of `sources` (sorted flat indices): int32 distances
    (H*W,) with -1 = unreachable, and the predecessor of each cell on one shortest path (-1 for
    sources and unreachable cells). The sources hang off one extra root node, so one search serves
    all of them."""
    n = passable.size
    grid = passable.copy()
    grid.flat[sources] = True
    order, predecessor = breadth_first_order(_graph(grid, sources), n, directed=True, return_predecessors=True)
    # In BFS order the parents' positions never decrease, so each level is one run of positions:
    # the next level starts where the parents leave the current one.
    position = np.empty(n + 1, dtype=np.intp)
    position[order] = np.arange(order.size)
    parent = position[predecessor[order[1:]]]  # parent position of order[1:], non-decreasing
    starts = [0, 1]  # level 0 = the root (position 0), level 1 = the sources
    while starts[-1] < order.size:
        starts.append(1 + int(np.searchsorted(parent, starts[-1])))
    level = np.repeat(np.arange(len(starts) - 1, dtype=np.int32), np.diff(starts))
    distances = np.full(n + 1, -1, dtype=np.int32)
    distances[order] = level - 1
    predecessor = predecessor[:n]
    predecessor[(predecessor < 0) | (predecessor == n)] = -1
    return distances[:n], predecessor


def bfs_distances(passable: np.ndarray, start: Cell) -> np.ndarray:
    """int32 (H, W): number of moves from `start` to each cell, -1 where unreachable."""
    passable = _grid(passable)
    r, c = _cell("start", start, passable.shape)
    return _search(passable, np.array([r * passable.shape[1] + c]))[0].reshape(passable.shape)


def multi_source_distances(passable: np.ndarray, sources) -> np.ndarray:
    """int32 (H, W): moves from the nearest of `sources` ((K, 2) cells, all counted as passable)."""
    passable = _grid(passable)
    sources = [_cell("sources", cell, passable.shape) for cell in np.asarray(sources).reshape(-1, 2).tolist()]
    if not sources:
        raise ValueError("sources must hold at least one cell (row, col), got none")
    flat = np.unique([r * passable.shape[1] + c for r, c in sources])
    return _search(passable, flat)[0].reshape(passable.shape)


def distances_to(passable: np.ndarray, start: Cell, targets) -> np.ndarray:
    """int32 (K,): moves from `start` to each of the (K, 2) `targets` (-1 unreachable), one search."""
    targets = np.asarray(targets, dtype=np.intp).reshape(-1, 2)
    distances = bfs_distances(passable, start)
    H, W = distances.shape
    inside = (targets[:, 0] >= 0) & (targets[:, 0] < H) & (targets[:, 1] >= 0) & (targets[:, 1] < W)
    if not inside.all():
        raise ValueError(f"targets must be cells (row, col) inside the {H}x{W} grid, got "
                         f"{tuple(targets[~inside][0].tolist())!r}")
    return distances[targets[:, 0], targets[:, 1]]


def plan_path(passable: np.ndarray, start_pose: Pose, goal: Cell, goal_heading: int | None = None) -> list[Pose] | None:
    """A shortest sequence of moves from `start_pose` to `goal` as the poses after each move (empty
    if already there with an acceptable heading), with the last move in direction `goal_heading`
    when given; None if the goal cannot be reached (or not entered in that direction)."""
    passable = _grid(passable)
    shape = passable.shape
    if len(start_pose) != 3 or start_pose[2] not in HEADINGS or isinstance(start_pose[2], bool):
        raise ValueError(f"start_pose must be (row, col, heading) with a heading in 0..3, got {tuple(start_pose)!r}")
    r, c = _cell("start_pose", tuple(start_pose)[:2], shape)
    goal = _cell("goal", goal, shape)
    check_choice("goal_heading", goal_heading, HEADINGS, allow_none=True)
    if goal == (r, c) and goal_heading in (None, start_pose[2]):
        return []
    last = goal
    if goal_heading is not None:  # enter the goal from the cell behind it
        last = (goal[0] - int(DELTAS[goal_heading][0]), goal[1] - int(DELTAS[goal_heading][1]))
        if not (0 <= last[0] < shape[0] and 0 <= last[1] < shape[1]):
            return None
    if not passable[goal] and goal != (r, c):
        return None
    W = shape[1]
    distances, predecessor = _search(passable, np.array([r * W + c]))
    if distances[last[0] * W + last[1]] < 0:
        return None
    cells = [last]
    while cells[-1] != (r, c):
        previous = int(predecessor[cells[-1][0] * W + cells[-1][1]])
        cells.append(divmod(previous, W))
    cells.reverse()
    if goal_heading is not None:
        cells.append(goal)
    return [(*cell, direction(prev, cell)) for prev, cell in pairwise(cells)]
