"""FARMap subgoals (lightning_modules/farmap/subgoals.py): near candidates from frontier clusters
(oracle 7.7), sampling weights, and the LTM far score (oracle 7.8)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurobolts.lightning_modules.farmap.local_map import LocalMap
from neurobolts.lightning_modules.farmap.subgoals import (
    NearCandidates,
    choose_far,
    far_scores,
    heading_towards,
    near_candidates,
    near_probabilities,
    temporal_penalty,
)

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3


def block(shape=(10, 10), rows=slice(2, 7), cols=slice(2, 7)) -> np.ndarray:
    grid = np.zeros(shape, dtype=bool)
    grid[rows, cols] = True
    return grid


def test_one_candidate_per_cluster_at_the_cell_nearest_the_centroid_snapped_to_known_free():
    known_free = block()
    frontier = np.zeros_like(known_free)
    frontier[1, 2:7] = True  # size 5 above the block: centroid (1, 4)
    frontier[7, 7] = True  # size 1 (diagonal to the corner): dropped
    frontier[3:5, 7] = True  # size 2 to the right: dropped, smaller than min(3, 5)
    c = near_candidates(frontier, known_free, (5, 3, UP))
    np.testing.assert_array_equal(c.targets, [[1, 4]])
    np.testing.assert_array_equal(c.cells, [[2, 4]])  # the 4-neighbour below the target
    np.testing.assert_array_equal(c.headings, [UP])  # looking at the target
    np.testing.assert_array_equal(c.sizes, [5])
    np.testing.assert_allclose(c.distances, [math.hypot(3, 1)])
    # without the big cluster the size-2 one is kept (min(3, 2) = 2); the size-1 one never is
    frontier[1, 2:7] = False
    c = near_candidates(frontier, known_free, (5, 3, UP))
    np.testing.assert_array_equal(c.targets, [[3, 7]])  # centroid (3.5, 7): tie -> first in row-major order
    np.testing.assert_array_equal(c.cells, [[3, 6]])
    np.testing.assert_array_equal(c.headings, [RIGHT])


def test_snapping_prefers_four_neighbours_and_the_window_offset_applies():
    known_free = np.zeros((6, 6), dtype=bool)
    known_free[3, 3] = known_free[2, 2] = True  # (2, 3) has (3, 3) below and (2, 2) left: row-major (2, 2)
    frontier = np.zeros_like(known_free)
    frontier[2, 3:5] = True  # cluster {(2, 3), (2, 4)}: centroid (2, 3.5), tie -> (2, 3)
    c = near_candidates(frontier, known_free, (0, 0, DOWN), offset=(10, 20))
    np.testing.assert_array_equal(c.targets, [[12, 23]])
    np.testing.assert_array_equal(c.cells, [[12, 22]])  # 4-neighbour (2, 2) before (3, 3), both at distance 1
    np.testing.assert_array_equal(c.headings, [RIGHT])
    known_free[:] = False
    known_free[1, 2] = known_free[3, 5] = True  # target (2, 3) has one known-free neighbour, diagonal
    c = near_candidates(frontier, known_free, (0, 0, DOWN))
    np.testing.assert_array_equal(c.cells, [[1, 2]])
    np.testing.assert_array_equal(c.headings, [DOWN])  # (1, 2) -> (2, 3): a tie goes vertical


def test_candidate_at_the_agents_own_pose_is_dropped_but_not_another_heading():
    known_free = block()
    frontier = np.zeros_like(known_free)
    frontier[1, 2:7] = True
    assert len(near_candidates(frontier, known_free, (2, 4, UP))) == 0  # already there, looking at it
    c = near_candidates(frontier, known_free, (2, 4, LEFT))  # same cell, looking elsewhere
    assert len(c) == 1 and c.distances[0] == 0.0
    assert near_probabilities(c, (2, 4, LEFT)).tolist() == [1.0]


def test_fully_explored_map_has_no_candidates():
    """Oracle 7.7: a map that has seen every cell has no frontier and no candidate."""
    world = np.ones((8, 9), dtype=np.int64)
    world[1:-1, 1:-1] = 0
    stm = LocalMap(world.shape)
    rows, cols = np.indices(world.shape)
    stm.update(rows.ravel(), cols.ravel(), world.ravel())
    assert stm.n_frontier == 0
    assert len(near_candidates(stm.frontier, stm.known_free, (3, 3, UP))) == 0
    # an unexplored corner brings a candidate back
    stm2 = LocalMap(world.shape)
    seen = cols.ravel() < 5
    stm2.update(rows.ravel()[seen], cols.ravel()[seen], world.ravel()[seen])
    c = near_candidates(stm2.frontier, stm2.known_free, (3, 2, UP))
    assert len(c) == 1 and (c.cells[:, 1] == 4).all() and (c.headings == RIGHT).all()


def candidates(cells, sizes, agent=(0, 0)) -> NearCandidates:
    cells = np.array(cells)
    return NearCandidates(cells, np.zeros(len(cells), np.int64), cells, np.array(sizes),
                          np.hypot(cells[:, 0] - agent[0], cells[:, 1] - agent[1]))


def test_sampling_weights():
    c = candidates([[0, 3], [4, 0], [-2, 0]], [2, 6, 3])  # distances 3, 4, 2 from (0, 0)
    p = near_probabilities(c, (0, 0, RIGHT), size_weight=False, head_bias=None)  # Frontier: 1 / d
    np.testing.assert_allclose(p, np.array([1 / 3, 1 / 4, 1 / 2]) / (1 / 3 + 1 / 4 + 1 / 2))
    p = near_probabilities(c, (0, 0, RIGHT), size_weight=True, head_bias=None)  # x size
    np.testing.assert_allclose(p, np.array([2 / 3, 6 / 4, 3 / 2]) / (2 / 3 + 6 / 4 + 3 / 2))
    # heading DOWN: (-2, 0) is behind (x 1e-5); (0, 3) is to the side, not behind
    p = near_probabilities(c, (0, 0, DOWN), size_weight=True, head_bias=1e-5)
    w = np.array([2 / 3, 6 / 4, 3 / 2 * 1e-5])
    np.testing.assert_allclose(p, w / w.sum())
    p = near_probabilities(c, (0, 0, UP), size_weight=True, head_bias=1e-5)  # now (4, 0) is behind
    w = np.array([2 / 3, 6 / 4 * 1e-5, 3 / 2])
    np.testing.assert_allclose(p, w / w.sum())


def test_heading_towards():
    dr = np.array([-3, 3, 1, -1, 2, -2, 0])
    dc = np.array([1, -1, 3, -3, 2, -2, 0])
    np.testing.assert_array_equal(heading_towards(dr, dc), [UP, DOWN, RIGHT, LEFT, DOWN, UP, DOWN])


# -- oracle 7.8 -----------------------------------------------------------------------------------
def test_far_score_oracle():
    q, d = [0.5, 0.1, 0.4], [0, 3, 10]
    scores = far_scores(q, d, 0, eps=5.0)
    np.testing.assert_allclose(scores, [0.5 / 5, 0.1 / 8, 0.4 / 15])
    assert choose_far(scores, 0) is None  # argmax is the current map: keep exploring here
    # current q = 0.04 and forced: a connected map is chosen
    scores = far_scores([0.04, 0.1, 0.4], d, 0, eps=5.0, forced=True, connected=[False, True, True])
    assert scores[0] == -math.inf
    assert choose_far(scores, 0) == 2  # 0.4 / 15 > 0.1 / 8
    # the same without forcing: 0.04 / 5 < 0.4 / 15, so map 2 wins on its own
    assert choose_far(far_scores([0.04, 0.1, 0.4], d, 0), 0) == 2


def test_unconnected_maps_are_masked_and_forced_mode_can_choose_nothing():
    q, d = [0.01, 0.0, 0.9], [0, 3, 4]
    scores = far_scores(q, d, 0, connected=[False, True, False])
    assert scores[2] == -math.inf  # not directly connected, however good
    assert choose_far(scores, 0) is None
    scores = far_scores(q, d, 0, connected=[False, False, False], forced=True)
    assert choose_far(scores, 0) is None  # nothing left
    assert math.isinf(far_scores(q, [0, math.inf, 4], 0)[1])  # unreachable map


def test_temporal_penalty():
    assert [temporal_penalty(i) for i in range(7)] == pytest.approx([0.95, 0.96, 0.97, 0.98, 0.99, 1.0, 1.0])
    q, d = [0.1, 0.1, 0.1], [0, 0, 0]
    scores = far_scores(q, d, 0, recency_rank=[0, 1, 6])
    np.testing.assert_allclose(scores, [0.1 / 5, 0.1 / 5 * 0.96, 0.1 / 5])  # the current map: no penalty
    assert choose_far(scores, 0) is None  # ties stay on the current map
    assert choose_far(far_scores(q, d, 1, recency_rank=[1, 0, 2]), 1) is None
    assert choose_far(far_scores([0.1, 0.1, 0.2], d, 0, recency_rank=[0, 6, 1]), 0) == 2


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    (([0.1, 0.2], [0, 1, 2], 0), {}, "q and d must be 1-D of one length"),
    (([0.1, 0.2], [0, 1], 2), {}, r"current must be a map index in \[0, 1\], got 2"),
    (([0.1, 0.2], [0, 1], 0), {"eps": 0.0}, r"eps must be a finite number > 0, got 0.0"),
])
def test_far_score_errors(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        far_scores(*args, **kwargs)


def test_near_errors():
    with pytest.raises(ValueError, match="candidates must hold at least one candidate"):
        near_probabilities(candidates(np.zeros((0, 2), int), []), (0, 0, UP))
    frontier = np.zeros((4, 4), dtype=bool)
    frontier[0, 0:2] = True  # no known-free cell next to it
    with pytest.raises(ValueError, match="frontier must only hold cells 8-adjacent to a known_free cell"):
        near_candidates(frontier, np.zeros((4, 4), dtype=bool), (3, 3, UP))


def test_cluster_cells_of_a_candidate():
    known_free = block()
    frontier = np.zeros_like(known_free)
    frontier[1, 2:7] = True
    frontier[2:5, 7] = True  # joins the first cluster diagonally at (1, 6)-(2, 7): one cluster of 8
    frontier[7, 2:5] = True  # a second cluster below
    c = near_candidates(frontier, known_free, (5, 5, UP), offset=(100, 200))
    assert sorted(c.sizes.tolist()) == [3, 8]
    big = int(np.argmax(c.sizes))
    cells = {tuple(v) for v in c.cluster_cells(big).tolist()}
    assert cells == {(101, 202 + i) for i in range(5)} | {(102 + i, 207) for i in range(3)}
    small = c.drop(big)
    assert {tuple(v) for v in small.cluster_cells(0).tolist()} == {(107, 202), (107, 203), (107, 204)}
