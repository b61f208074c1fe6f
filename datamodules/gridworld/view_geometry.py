"""Geometry of the egocentric view, fixed per (view size, FOV ratio): the cone field of view and the
line-of-sight rays (docs/papers/farmap.md sections 2.1 and 7.2). Pure index arithmetic on the
V x V egocentric window (row 0 farthest ahead, agent at (V - 1, V // 2) facing up); the map enters
only as the opacity of the window's cells, so the view is the same for every rotation of the world.

Cone: a cell f rows ahead of the agent and s columns to its side (s != 0) is in the field of view iff
f >= max(1, floor(ratio * (2|s| - 1))); the agent's own column is in view from the agent cell up.
For V = 15 and ratio 0.25 that is the reference's wedge: in the agent's row only the agent cell, one
row ahead columns 3-11, two rows ahead columns 1-13, further ahead the full width.

Line of sight: cells are unit squares around integer centres. A cell is hidden iff the segment from
the centre of the agent's cell to the centre of the cell passes through the interior of an opaque
cell (a wall, or outside the map) other than the two end cells, or passes exactly through a corner
where both cells touching the segment only at that corner are opaque (two walls meeting diagonally
are closed; a single wall corner does not hide what lies past it). A wall cell is visible when its
own ray is clear. With this rule every visible free cell is 4-connected to the agent through free
cells and every visible wall cell is 4-adjacent to such a free cell, so on a map with one free region
the seen cells never exceed the visible area (free cells plus walls 4-adjacent to a free cell).
"""

from __future__ import annotations

import functools
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from .headings import DELTAS


class ViewGeometry(NamedTuple):
    size: int
    fov: np.ndarray  # bool (V, V): inside the cone
    offsets: np.ndarray  # int (4, 2, V, V): allocentric (d_row, d_col) of each view cell per heading
    single: np.ndarray  # int (2, n): (target, blocker) flat view indices; blocker opaque => target hidden
    pair: np.ndarray  # int (3, m): (target, a, b); a and b both opaque => target hidden

    def hidden(self, opaque: np.ndarray) -> np.ndarray:
        """bool (V*V,): cells whose line of sight is blocked, given the flat opacity of the window."""
        blocked = np.zeros(self.size * self.size, dtype=bool)
        blocked[self.single[0][opaque[self.single[1]]]] = True
        blocked[self.pair[0][opaque[self.pair[1]] & opaque[self.pair[2]]]] = True
        return blocked


def cone(size: int, ratio: float) -> np.ndarray:
    """bool (size, size) field-of-view mask (module docstring)."""
    ahead = (size - 1 - np.arange(size))[:, None]
    side = np.abs(np.arange(size) - size // 2)[None, :]
    need = np.maximum(1, np.floor(ratio * (2 * side - 1)).astype(int))
    return np.where(side == 0, ahead >= 0, ahead >= need)


def ray(start: tuple[int, int], end: tuple[int, int]) -> tuple[list, list]:
    """(cells, corner pairs) passed by the segment between two cell centres, end cells excluded:
    `cells` whose interior it crosses, and for each lattice corner it passes through the two cells it
    touches only there. Exact rational arithmetic, so corners are never missed or invented."""
    (r0, c0), (r1, c1) = start, end
    dr, dc = r1 - r0, c1 - c0
    sr, sc = int(np.sign(dr)), int(np.sign(dc))
    crossings: dict[Fraction, set[str]] = {}
    for k in range(abs(dr)):  # boundary line between row r0 + sr*k and the next one
        crossings.setdefault(Fraction(2 * k + 1, 2 * abs(dr)), set()).add("row")
    for k in range(abs(dc)):
        crossings.setdefault(Fraction(2 * k + 1, 2 * abs(dc)), set()).add("col")
    cells, pairs, (r, c) = [], [], (r0, c0)
    for t in sorted(crossings):
        kinds = crossings[t]
        if kinds == {"row", "col"}:
            pairs.append(((r + sr, c), (r, c + sc)))
        r, c = r + sr * ("row" in kinds), c + sc * ("col" in kinds)
        if (r, c) != (r1, c1):
            cells.append((r, c))
    assert (r, c) == (r1, c1)
    return cells, pairs


@functools.lru_cache(maxsize=8)
def view_geometry(size: int, ratio: float) -> ViewGeometry:
    """The precomputed geometry of a `size` x `size` view with FOV `ratio` (cached)."""
    agent = (size - 1, size // 2)
    fov = cone(size, ratio)
    ahead = (size - 1 - np.arange(size))[:, None] + np.zeros((1, size), dtype=int)
    side = np.arange(size)[None, :] - size // 2 + np.zeros((size, 1), dtype=int)
    offsets = np.stack([np.stack([ahead * DELTAS[h][k] + side * DELTAS[(h + 1) % 4][k] for k in (0, 1)])
                        for h in range(4)])
    single, pair = [], []
    for i, j in zip(*np.nonzero(fov), strict=True):
        target = i * size + j
        cells, pairs = ray(agent, (int(i), int(j)))
        single += [(target, r * size + c) for r, c in cells]
        pair += [(target, a[0] * size + a[1], b[0] * size + b[1]) for a, b in pairs]
    single = np.array(single, dtype=np.intp).reshape(-1, 2).T
    pair = np.array(pair, dtype=np.intp).reshape(-1, 3).T
    for array in (fov, offsets, single, pair):
        array.flags.writeable = False
    return ViewGeometry(size, fov, offsets, single, pair)
