"""The scripted curriculum of the forgetting study (docs/papers/far_curiosity.md section 6A): a random
walk in room A, then through the door into room B, optionally back to A (or on to C, ...).

Phases are letters: "A" = room 0, "B" = room 1, "C" = room 2, ... Phase p holds
- its transit (none for the first phase): the cells of a shortest path from the last cell of phase
  p - 1 to the nearest cell of the phase's room, through the door(s), up to but excluding that
  first cell inside the room (the door cells, and for rooms that are not neighbours the rooms in
  between);
- then `steps_per_phase` cells inside the room: the arrival cell (for the first phase, a uniformly
  drawn cell of its room) followed by steps_per_phase - 1 random-walk steps, each a move drawn
  uniformly among the four; a move that would leave the room (a wall or a door) leaves the agent
  where it is, so the cell repeats.
Transit steps belong to the phase they lead into and are part of the walk (the learner sees them
like any other step); `transit` marks them. Everything is deterministic per seed. NumPy only.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

import numpy as np

from neurobolts.datamodules.gridworld.headings import DELTAS
from neurobolts.datamodules.gridworld.rooms import RoomsLayout
from neurobolts.datamodules.gridworld.shortest_path import bfs_distances, plan_path
from neurobolts.plugins.checks import check_int, check_positive_int


def phase_rooms(phases, num_rooms: int) -> list[int]:
    """The room id of each phase letter ("A" = 0, ...); ValueError naming `phases` otherwise."""
    letters = string.ascii_uppercase[:num_rooms]
    if isinstance(phases, str) or not isinstance(phases, Sequence) or not phases \
            or not all(isinstance(p, str) and p in letters for p in phases):
        raise ValueError(f"phases must be a non-empty list of room letters in {list(letters)} (A = room 0) for a "
                         f"map of {num_rooms} rooms, got {phases!r}")
    return [letters.index(p) for p in phases]


def _transit(layout: RoomsLayout, cell: tuple[int, int], room: int) -> list[tuple[int, int]]:
    """The cells of a shortest path from `cell` to the nearest cell of `room`, that cell included."""
    cells = layout.room_cells(room)
    distances = bfs_distances(layout.free, cell)[cells[:, 0], cells[:, 1]]
    target = tuple(int(v) for v in cells[np.argmin(np.where(distances < 0, np.iinfo(np.int32).max, distances))])
    path = plan_path(layout.free, (*cell, 0), target)
    return [(r, c) for r, c, _ in path]


def scripted_walk(layout: RoomsLayout, phases: Sequence[str] = ("A", "B"), steps_per_phase: int = 2000,
                  seed: int = 0) -> dict[str, np.ndarray]:
    """The walk (module docstring) as numpy arrays over its T steps: "cells" int (T, 2), "rooms" int
    (T,) (room id, -1 on a door), "phase" int (T,) (index into `phases`), "transit" bool (T,)."""
    rooms_of_phase = phase_rooms(phases, layout.num_rooms)
    steps_per_phase = check_positive_int("steps_per_phase", steps_per_phase)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    cells: list[tuple[int, int]] = []
    phase: list[int] = []
    transit: list[bool] = []
    for p, room in enumerate(rooms_of_phase):
        if p == 0:
            start = layout.room_cells(room)[rng.integers(len(layout.room_cells(room)))]
            cell = (int(start[0]), int(start[1]))
        else:
            path = _transit(layout, cells[-1], room)
            if not path:  # already inside the room (the same room twice in a row)
                path = [cells[-1]]
            cells += path[:-1]
            phase += [p] * (len(path) - 1)
            transit += [True] * (len(path) - 1)
            cell = path[-1]
        inside = layout.room_of == room
        moves = DELTAS[rng.integers(4, size=steps_per_phase - 1)]
        walk = [cell]
        for dr, dc in moves:
            r, c = walk[-1][0] + int(dr), walk[-1][1] + int(dc)
            walk.append((r, c) if inside[r, c] else walk[-1])
        cells += walk
        phase += [p] * steps_per_phase
        transit += [False] * steps_per_phase
    cells_array = np.array(cells, dtype=np.int64)
    return {"cells": cells_array, "rooms": layout.rooms_of(cells_array).astype(np.int64),
            "phase": np.array(phase, dtype=np.int64), "transit": np.array(transit, dtype=bool)}
