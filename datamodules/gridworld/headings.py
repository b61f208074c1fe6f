"""Headings and the move rule of the grid world (docs/papers/farmap.md section 2.1).

Poses are `(row, col, heading)` with row 0 at the top. An action is one of the four allocentric
moves UP / RIGHT / DOWN / LEFT (the same numbers as the headings): the agent steps to that
4-neighbour and its heading becomes the move direction. There is no rotation in place; "turn back"
is the move in the reverse direction (one step back, heading flipped).

Moving into a wall (or off the grid) is refused: the agent stays where it is and keeps its heading,
so a refused move is visible as an unchanged pose. (Turning to face the wall instead would be a
rotation in place, which the reference does not have.)
"""

from __future__ import annotations

import numpy as np

from neurobolts.plugins.checks import check_choice

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3
HEADINGS = (UP, RIGHT, DOWN, LEFT)
HEADING_NAMES = ("up", "right", "down", "left")
# (d_row, d_col) of one move in each heading; heading h + 1 is h turned clockwise (to the right)
DELTAS = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]])
_DELTA_TUPLES = tuple((int(dr), int(dc)) for dr, dc in DELTAS)


def reverse(heading: int) -> int:
    """The opposite heading (UP <-> DOWN, LEFT <-> RIGHT)."""
    return (heading + 2) % 4


def right_of(heading: int) -> int:
    """The heading 90 degrees clockwise of `heading` (the agent's right-hand side)."""
    return (heading + 1) % 4


def direction(frm: tuple[int, int], to: tuple[int, int]) -> int:
    """The heading of the move from cell `frm` to its 4-neighbour `to`."""
    delta = (to[0] - frm[0], to[1] - frm[1])
    if delta not in _DELTA_TUPLES:
        raise ValueError(f"to must be a 4-neighbour of {tuple(frm)}, got {tuple(to)!r}")
    return _DELTA_TUPLES.index(delta)


def move(passable: np.ndarray, pose: tuple[int, int, int], action: int) -> tuple[int, int, int]:
    """The pose after `action` from `pose` on the bool grid `passable` (True = free): one step in
    direction `action` with heading `action`, or `pose` unchanged if that cell is a wall or off the
    grid (see the module docstring)."""
    check_choice("action", action, HEADINGS)
    r, c, _ = pose
    dr, dc = _DELTA_TUPLES[action]
    nr, nc = r + dr, c + dc
    if 0 <= nr < passable.shape[0] and 0 <= nc < passable.shape[1] and passable[nr, nc]:
        return (nr, nc, action)
    return tuple(pose)


def turn_back(passable: np.ndarray, pose: tuple[int, int, int]) -> tuple[int, int, int]:
    """The move opposite to the current heading (refused like any move if a wall is behind)."""
    return move(passable, pose, reverse(pose[2]))
