"""FARMap's long-term memory: the graph of local maps joined at fracture points, its borders for
pose-based recall and the fracture-to-fracture distances between maps (docs/papers/farmap.md
sections 2.3-2.5).

- Nodes are local maps (`LocalMap`, stored by reference: a map that is not active is never updated,
  so the stored object IS the deep copy the reference writes; recalling it and writing it back are
  free).
- A fragmentation at pose (r, c, h) adds one node (the new map) and one undirected edge old <-> new,
  records the fracture pose in each map's own coordinates, and builds a border on both maps: the run
  of cells through the fracture cell perpendicular to h that the OLD map knows as free (the cells the
  agent can stand on; the reference reads the free-space channel), stored with the crossing heading h
  on the old map and the reversed heading on the new one.
- Recall is pose-based: when the agent's cell and heading are on a border of the active map, the map
  on the other side of that border becomes active. Re-crossing creates no node. If a pose lies on
  borders to several maps, the border built first wins (the reference scans its borders in order).
- Distances: within a map, fracture points are joined by their Manhattan distance (all maps share
  the world frame, so the distances are those of the maps' own coordinates); `map_distances` runs
  Dijkstra from the agent's cell over that fracture-point graph, giving d_cj for every map j (for a
  map directly connected to the current one this is the Manhattan distance from the agent to the
  nearest fracture point leading there, as in the reference).

Pure Python + numpy; no torch, no Lightning.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from neurobolts.plugins.checks import check_choice

from .local_map import LocalMap

_DELTAS = ((-1, 0), (0, 1), (1, 0), (0, -1))  # UP, RIGHT, DOWN, LEFT (the grid world's headings)


@dataclass(frozen=True)
class Fracture:
    """One fragmentation: `old_map` -> `new_map` at world cell `cell`, crossed with `heading`."""

    index: int
    old_map: int
    new_map: int
    cell: tuple[int, int]
    heading: int
    step: int
    pose_in_old: tuple[int, int, int]  # in the old map's own coordinates
    pose_in_new: tuple[int, int, int]  # in the new map's own coordinates
    border: tuple[tuple[int, int], ...]  # world cells of the border line (fracture cell included)

    def other(self, map_id: int) -> int:
        """The map on the other side of this fracture from `map_id`."""
        return self.new_map if map_id == self.old_map else self.old_map

    def border_heading(self, map_id: int) -> int:
        """The heading that crosses this fracture's border out of map `map_id`."""
        return self.heading if map_id == self.old_map else (self.heading + 2) % 4


def border_run(known_free: np.ndarray, cell: tuple[int, int], heading: int) -> list[tuple[int, int]]:
    """The contiguous run of True cells of `known_free` through `cell` along the axis perpendicular to
    `heading` (`cell` itself is always included: the agent stands on it)."""
    r, c = cell
    dr, dc = _DELTAS[(heading + 1) % 4]  # a perpendicular direction
    H, W = known_free.shape
    run = [(r, c)]
    for sign in (-1, 1):
        rr, cc = r + sign * dr, c + sign * dc
        while 0 <= rr < H and 0 <= cc < W and known_free[rr, cc]:
            run.append((rr, cc))
            rr, cc = rr + sign * dr, cc + sign * dc
    return sorted(run)


class LTMGraph:
    """The LTM graph (module docstring). `add_map` registers the first map; `fragment` each later one."""

    def __init__(self):
        self.maps: dict[int, LocalMap] = {}
        self.fractures: list[Fracture] = []
        self.adjacency: dict[int, set[int]] = {}
        self._borders: dict[int, dict[tuple[int, int, int], int]] = {}  # map -> {(r, c, h): fracture index}
        self._incident: dict[int, list[int]] = {}  # map -> indices of its fractures

    # -- building ---------------------------------------------------------------------------------
    def add_map(self, stm: LocalMap) -> None:
        if stm.map_id in self.maps:
            raise ValueError(f"map_id must be new to the LTM graph, got {stm.map_id!r}")
        self.maps[stm.map_id] = stm
        self.adjacency[stm.map_id] = set()
        self._borders[stm.map_id] = {}
        self._incident[stm.map_id] = []

    def fragment(self, old: LocalMap, new: LocalMap, pose: tuple[int, int, int], step: int = -1) -> Fracture:
        """Store `old`, add `new` (a fresh map) as a node joined to `old` at the fracture `pose`
        (world (r, c, heading) of the agent, heading = its last move)."""
        if old.map_id not in self.maps:
            raise ValueError(f"old must be a map of the LTM graph, got map_id {old.map_id!r}")
        r, c, h = (int(v) for v in pose)
        check_choice("heading", h, (0, 1, 2, 3))
        self.add_map(new)
        border = tuple(border_run(old.known_free, (r, c), h))
        fracture = Fracture(index=len(self.fractures), old_map=old.map_id, new_map=new.map_id, cell=(r, c),
                            heading=h, step=int(step), pose_in_old=(*old.to_local(r, c), h),
                            pose_in_new=(*new.to_local(r, c), h), border=border)
        self.fractures.append(fracture)
        self.adjacency[old.map_id].add(new.map_id)
        self.adjacency[new.map_id].add(old.map_id)
        for map_id in (old.map_id, new.map_id):
            self._incident[map_id].append(fracture.index)
            heading = fracture.border_heading(map_id)
            borders = self._borders[map_id]
            for cell in border:
                borders.setdefault((*cell, heading), fracture.index)  # the first border built wins
        return fracture

    # -- queries ----------------------------------------------------------------------------------
    @property
    def num_nodes(self) -> int:
        return len(self.maps)

    @property
    def num_edges(self) -> int:
        """Distinct undirected map pairs joined by at least one fracture."""
        return sum(len(v) for v in self.adjacency.values()) // 2

    def recall(self, map_id: int, pose: tuple[int, int, int]) -> Fracture | None:
        """The fracture whose border of map `map_id` holds `pose` (the agent crosses it), else None."""
        index = self._borders[map_id].get(pose)
        return None if index is None else self.fractures[index]

    def borders(self, map_id: int) -> dict[tuple[int, int, int], int]:
        """{(r, c, heading): map on the other side} of the borders of map `map_id`."""
        return {pose: self.fractures[i].other(map_id) for pose, i in self._borders[map_id].items()}

    def incident(self, map_id: int) -> list[Fracture]:
        """The fractures of map `map_id` (its fracture points), oldest first."""
        return [self.fractures[i] for i in self._incident[map_id]]

    def within_map_distances(self, map_id: int) -> tuple[list[int], np.ndarray]:
        """(fracture indices, Manhattan distance matrix) between the fracture points of map `map_id`."""
        fractures = self.incident(map_id)
        points = np.array([f.cell for f in fractures], dtype=np.int64).reshape(-1, 2)
        dist = np.abs(points[:, None, :] - points[None, :, :]).sum(-1)
        return [f.index for f in fractures], dist

    def nearest_fracture(self, map_id: int, other: int, cell: tuple[int, int]) -> Fracture | None:
        """The fracture between `map_id` and `other` nearest (Manhattan) to `cell`; ties: the oldest."""
        best, best_d = None, math.inf
        for f in self.incident(map_id):
            if f.other(map_id) == other:
                d = abs(f.cell[0] - cell[0]) + abs(f.cell[1] - cell[1])
                if d < best_d:
                    best, best_d = f, d
        return best

    def map_distances(self, current: int, cell: tuple[int, int]) -> dict[int, float]:
        """d_cj for every map j: the shortest distance from `cell` (in map `current`) to a fracture
        point of j along fracture points (each leg a Manhattan distance within one map); 0 for the
        current map, inf for maps that cannot be reached."""
        dist = {current: 0.0}
        best = [math.inf] * len(self.fractures)
        heap = []
        for i in self._incident[current]:
            f = self.fractures[i]
            d = abs(f.cell[0] - cell[0]) + abs(f.cell[1] - cell[1])
            if d < best[i]:
                best[i] = d
                heapq.heappush(heap, (d, i))
        while heap:
            d, i = heapq.heappop(heap)
            if d > best[i]:
                continue
            f = self.fractures[i]
            for map_id in (f.old_map, f.new_map):
                dist[map_id] = min(dist.get(map_id, math.inf), d)
                for j in self._incident[map_id]:
                    g = self.fractures[j]
                    nd = d + abs(g.cell[0] - f.cell[0]) + abs(g.cell[1] - f.cell[1])
                    if nd < best[j]:
                        best[j] = nd
                        heapq.heappush(heap, (nd, j))
        return {map_id: dist.get(map_id, math.inf) for map_id in self.maps}

    def __repr__(self) -> str:
        return f"LTMGraph(nodes={self.num_nodes}, edges={self.num_edges}, fractures={len(self.fractures)})"
