"""FARMap LTM graph (lightning_modules/farmap/ltm.py): oracle 7.6 on hand-built maps, borders and
pose-based recall, fracture-to-fracture distances."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurobolts.lightning_modules.farmap.local_map import LocalMap
from neurobolts.lightning_modules.farmap.ltm import LTMGraph, border_run

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3
SHAPE = (9, 14)


def room_map(map_id: int, free_rows=range(2, 7), free_cols=range(1, 13), origin=(0, 0)) -> LocalMap:
    """A map that knows a block of free cells (class 0) and walls (class 1) around it."""
    stm = LocalMap(SHAPE, map_id=map_id, origin=origin)
    rows, cols = np.indices(SHAPE)
    free = np.isin(rows, list(free_rows)) & np.isin(cols, list(free_cols))
    stm.update(rows.ravel(), cols.ravel(), np.where(free, 0, 1).ravel())
    return stm


def test_fragmentation_adds_one_node_and_one_edge():
    ltm = LTMGraph()
    a = room_map(0)
    ltm.add_map(a)
    assert (ltm.num_nodes, ltm.num_edges) == (1, 0)
    for k in range(1, 5):
        old = ltm.maps[k - 1]
        new = LocalMap(SHAPE, map_id=k, origin=(4, 2 + k))
        fracture = ltm.fragment(old, new, (4, 2 + k, RIGHT), step=10 * k)
        assert (ltm.num_nodes, ltm.num_edges) == (k + 1, k)
        assert fracture.old_map == k - 1 and fracture.new_map == k and fracture.step == 10 * k
        assert ltm.adjacency[k] == {k - 1}
    assert ltm.adjacency[1] == {0, 2} and ltm.adjacency[0] == {1}


def test_fracture_pose_in_each_maps_own_coordinates():
    ltm = LTMGraph()
    old = room_map(0, origin=(2, 1))
    ltm.add_map(old)
    new = LocalMap(SHAPE, map_id=1, origin=(4, 6))
    fracture = ltm.fragment(old, new, (4, 6, RIGHT))
    assert fracture.cell == (4, 6)
    assert fracture.pose_in_old == (2, 5, RIGHT)  # (4, 6) - origin (2, 1)
    assert fracture.pose_in_new == (0, 0, RIGHT)  # the new map starts at the fracture
    assert new.to_world(*fracture.pose_in_new[:2]) == old.to_world(*fracture.pose_in_old[:2]) == (4, 6)


def test_border_is_the_known_free_run_perpendicular_to_the_heading():
    ltm = LTMGraph()
    old = room_map(0)  # free rows 2..6, cols 1..12
    ltm.add_map(old)
    new = LocalMap(SHAPE, map_id=1)
    fracture = ltm.fragment(old, new, (4, 6, RIGHT))
    assert fracture.border == tuple((r, 6) for r in range(2, 7))  # the column through (4, 6), walls excluded
    # old map: crossing heading; new map: reversed heading
    assert ltm.borders(0) == {(r, 6, RIGHT): 1 for r in range(2, 7)}
    assert ltm.borders(1) == {(r, 6, LEFT): 0 for r in range(2, 7)}
    fracture = ltm.fragment(ltm.maps[1], LocalMap(SHAPE, map_id=2), (3, 8, UP))
    assert fracture.border == ((3, 8),)  # map 1 knows no free cell: the run is the fracture cell alone


def test_border_run_stops_at_unknown_or_wall_cells():
    known_free = np.zeros((5, 9), dtype=bool)
    known_free[2, 1:4] = known_free[2, 5:8] = True
    assert border_run(known_free, (2, 2), UP) == [(2, 1), (2, 2), (2, 3)]
    assert border_run(known_free, (2, 2), DOWN) == [(2, 1), (2, 2), (2, 3)]
    # the agent's cell is always on it (here it joins the runs on both sides)
    assert border_run(known_free, (2, 4), UP) == [(2, c) for c in range(1, 8)]
    assert border_run(known_free, (0, 4), RIGHT) == [(0, 4)]
    assert border_run(known_free, (2, 6), LEFT) == [(2, 6)]  # a vertical run: nothing above or below


def test_pose_based_recall_matches_cell_and_heading():
    ltm = LTMGraph()
    old = room_map(0)
    ltm.add_map(old)
    ltm.fragment(old, LocalMap(SHAPE, map_id=1), (4, 6, RIGHT))
    # in the new map, stepping back across the border (heading LEFT) recalls the old map
    assert ltm.recall(1, (5, 6, LEFT)).other(1) == 0
    assert ltm.recall(1, (5, 6, RIGHT)) is None  # heading does not match
    assert ltm.recall(1, (5, 7, LEFT)) is None  # not on the border
    # in the old map, crossing again in the original direction recalls the new map: no new node
    assert ltm.recall(0, (2, 6, RIGHT)).other(0) == 1
    assert ltm.num_nodes == 2 and ltm.num_edges == 1


def test_first_border_wins_where_borders_overlap():
    ltm = LTMGraph()
    a = room_map(0)
    ltm.add_map(a)
    ltm.fragment(a, LocalMap(SHAPE, map_id=1), (4, 6, RIGHT))
    ltm.fragment(a, LocalMap(SHAPE, map_id=2), (3, 6, RIGHT))  # the same column of map 0
    assert ltm.recall(0, (4, 6, RIGHT)).new_map == 1
    assert ltm.recall(1, (4, 6, LEFT)).other(1) == 0 and ltm.recall(2, (4, 6, LEFT)).other(2) == 0


def test_within_map_and_between_map_distances():
    """Chain 0 -(f0 at (4, 3))- 1 -(f1 at (2, 9))- 2, and 0 -(f2 at (6, 1))- 3."""
    ltm = LTMGraph()
    m0 = room_map(0)
    ltm.add_map(m0)
    m1, m2, m3 = (LocalMap(SHAPE, map_id=k) for k in (1, 2, 3))
    ltm.fragment(m0, m1, (4, 3, RIGHT))
    ltm.fragment(m1, m2, (2, 9, UP))
    ltm.fragment(m0, m3, (6, 1, DOWN))
    ids, dist = ltm.within_map_distances(0)
    assert ids == [0, 2]
    np.testing.assert_array_equal(dist, [[0, 4], [4, 0]])  # |4 - 6| + |3 - 1|
    ids, dist = ltm.within_map_distances(1)
    assert ids == [0, 1] and dist[0, 1] == 2 + 6
    agent = (5, 5)
    d = ltm.map_distances(0, agent)
    assert d[0] == 0.0
    assert d[1] == 1 + 2  # to f0
    assert d[3] == 1 + 4  # to f2
    assert d[2] == 3 + 8  # via f0 and the within-map leg f0 -> f1 in map 1
    d = ltm.map_distances(2, (2, 9))
    assert d == {0: 8.0, 1: 0.0, 2: 0.0, 3: 8.0 + 4.0}
    assert ltm.nearest_fracture(0, 3, agent).cell == (6, 1)
    assert ltm.nearest_fracture(0, 2, agent) is None  # not directly connected


def test_map_distances_prefer_the_nearest_fracture():
    ltm = LTMGraph()
    m0 = room_map(0)
    ltm.add_map(m0)
    m1, m2 = LocalMap(SHAPE, map_id=1), LocalMap(SHAPE, map_id=2)
    ltm.fragment(m0, m1, (2, 2, UP))
    ltm.fragment(m1, m2, (6, 12, DOWN))
    # from (6, 11) in map 0, map 2 is reached through f0 (4 + 9) and map 1's leg f0 -> f1 (4 + 10)
    assert ltm.map_distances(0, (6, 11))[2] == 4 + 9 + 4 + 10
    assert math.isinf(LTMGraph.map_distances(_lonely(), 0, (0, 0))[1])


def _lonely() -> LTMGraph:
    """Two maps without a fracture between them (only possible by hand)."""
    ltm = LTMGraph()
    ltm.add_map(LocalMap(SHAPE, map_id=0))
    ltm.add_map(LocalMap(SHAPE, map_id=1))
    return ltm


def test_errors():
    ltm = LTMGraph()
    a = room_map(0)
    ltm.add_map(a)
    with pytest.raises(ValueError, match="map_id must be new to the LTM graph, got 0"):
        ltm.add_map(LocalMap(SHAPE, map_id=0))
    with pytest.raises(ValueError, match="old must be a map of the LTM graph, got map_id 5"):
        ltm.fragment(LocalMap(SHAPE, map_id=5), LocalMap(SHAPE, map_id=6), (1, 1, UP))
    with pytest.raises(ValueError, match=r"heading must be one of \(0, 1, 2, 3\), got 4"):
        ltm.fragment(a, LocalMap(SHAPE, map_id=1), (1, 1, 4))
    assert ltm.num_nodes == 1  # a refused fragmentation adds nothing
