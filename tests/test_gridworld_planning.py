"""Shortest paths on the grid (docs/papers/farmap.md sections 2.5 and 5.2), checked against scipy's
all-pairs shortest paths on independently built graphs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import lil_matrix
from scipy.sparse.csgraph import shortest_path

from neurobolts.datamodules.gridworld import (
    DELTAS,
    GridWorld,
    bfs_distances,
    distances_to,
    multi_source_distances,
    plan_path,
    two_rooms_map,
)


def random_grid(rng, shape=(9, 11), p_free=0.7) -> np.ndarray:
    return rng.random(shape) < p_free


def cell_graph_distances(passable: np.ndarray) -> np.ndarray:
    """All-pairs move counts between cells, (H*W, H*W), inf = unreachable (edges between free cells)."""
    H, W = passable.shape
    graph = lil_matrix((H * W, H * W))
    for r in range(H):
        for c in range(W):
            for dr, dc in DELTAS:
                nr, nc = r + dr, c + dc
                if 0 <= nr < H and 0 <= nc < W and passable[r, c] and passable[nr, nc]:
                    graph[r * W + c, nr * W + nc] = 1
    return shortest_path(graph.tocsr(), method="D", unweighted=True)


def pose_graph_distances(passable: np.ndarray, start_pose) -> np.ndarray:
    """Moves from `start_pose` to every (cell, heading) state, (H, W, 4): the search over
    (cell, heading) that plan_path's reduction replaces."""
    H, W = passable.shape
    n = H * W * 4
    graph = lil_matrix((n + 1, n + 1))
    for r in range(H):
        for c in range(W):
            for h in range(4):
                for action, (dr, dc) in enumerate(DELTAS):
                    nr, nc = r + dr, c + dc
                    if 0 <= nr < H and 0 <= nc < W and passable[nr, nc]:
                        graph[(r * W + c) * 4 + h, (nr * W + nc) * 4 + action] = 1
    r, c, h = start_pose
    return shortest_path(graph.tocsr(), method="D", unweighted=True, indices=(r * W + c) * 4 + h)[:n].reshape(H, W, 4)


def check_path(passable, start_pose, goal, path):
    previous = start_pose
    for r, c, h in path:
        assert passable[r, c]
        assert (r - previous[0], c - previous[1]) == tuple(DELTAS[h])  # one move, heading = its direction
        previous = (r, c, h)
    assert previous[:2] == tuple(goal)


def test_bfs_distances_match_scipy_on_random_grids():
    rng = np.random.default_rng(0)
    for _ in range(25):
        passable = random_grid(rng)
        H, W = passable.shape
        reference = cell_graph_distances(passable)
        for r, c in np.argwhere(passable)[:6]:
            expected = reference[r * W + c].reshape(H, W)
            got = bfs_distances(passable, (int(r), int(c)))
            assert got.dtype == np.int32
            assert np.array_equal(got, np.where(np.isinf(expected), -1, expected).astype(np.int32))


def test_multi_source_and_many_targets_need_one_search():
    rng = np.random.default_rng(1)
    for _ in range(10):
        passable = random_grid(rng, (12, 10))
        free = [tuple(map(int, cell)) for cell in np.argwhere(passable)]
        sources = [free[i] for i in rng.choice(len(free), 3, replace=False)]
        per_source = np.stack([bfs_distances(passable, s) for s in sources]).astype(float)
        per_source[per_source < 0] = np.inf
        nearest = per_source.min(axis=0)
        expected = np.where(np.isinf(nearest), -1, nearest)
        assert np.array_equal(multi_source_distances(passable, sources), expected)
        targets = np.array(free[:7])
        assert np.array_equal(distances_to(passable, sources[0], targets),
                              bfs_distances(passable, sources[0])[targets[:, 0], targets[:, 1]])


def test_plan_path_is_shortest_and_well_formed():
    rng = np.random.default_rng(2)
    for _ in range(15):
        passable = random_grid(rng, (8, 9))
        free = [tuple(map(int, cell)) for cell in np.argwhere(passable)]
        start = (*free[rng.integers(len(free))], int(rng.integers(4)))
        poses = pose_graph_distances(passable, start)
        for goal in (free[i] for i in rng.choice(len(free), 6, replace=False)):
            for goal_heading in (None, 0, 1, 2, 3):
                best = poses[goal].min() if goal_heading is None else poses[goal][goal_heading]
                if goal == start[:2] and goal_heading in (None, start[2]):
                    best = 0
                path = plan_path(passable, start, goal, goal_heading)
                if np.isinf(best):
                    assert path is None, (start, goal, goal_heading)
                    continue
                assert len(path) == best, (start, goal, goal_heading)
                check_path(passable, start, goal, path)
                if goal_heading is not None and path:
                    assert path[-1][2] == goal_heading


def test_plan_path_through_the_door_of_two_rooms():
    passable = ~two_rooms_map(room=5, door=1)
    path = plan_path(passable, (3, 1, 0), (3, 11))
    assert len(path) == 10 and (3, 6, 1) in path  # straight through the door in row 3
    assert plan_path(passable, (3, 1, 0), (3, 1)) == []
    assert plan_path(passable, (3, 1, 0), (3, 1), goal_heading=2) == [(2, 1, 0), (3, 1, 2)]
    blocked = passable.copy()
    blocked[3, 6] = False
    assert plan_path(blocked, (3, 1, 0), (3, 11)) is None
    assert bfs_distances(blocked, (3, 1))[3, 11] == -1
    assert plan_path(passable, (3, 1, 0), (0, 0)) is None  # a wall as goal


def test_the_start_counts_as_passable():
    passable = np.array([[False, True, True]])
    assert bfs_distances(passable, (0, 0)).tolist() == [[0, 1, 2]]
    assert plan_path(passable, (0, 0, 1), (0, 2)) == [(0, 1, 1), (0, 2, 1)]


def test_planner_on_a_large_reference_map():
    world = GridWorld.from_reference(299)
    rng = np.random.default_rng(4)
    start, goal = world.random_start(rng), world.random_start(rng)
    distances = bfs_distances(world.free, start[:2])
    path = plan_path(world.free, start, goal[:2])
    assert len(path) == distances[goal[:2]] > 0
    check_path(world.free, start, goal[:2], path)
    # distances are symmetric on an undirected grid
    assert bfs_distances(world.free, goal[:2])[start[:2]] == distances[goal[:2]]


def test_bad_planner_inputs_name_the_field():
    passable = ~two_rooms_map()
    with pytest.raises(ValueError, match=r"passable must be a non-empty 2-D bool grid, got int64"):
        bfs_distances(passable.astype(np.int64), (1, 1))
    with pytest.raises(ValueError, match=r"start must be a cell \(row, col\) inside the 7x13 grid, got \(7, 1\)"):
        bfs_distances(passable, (7, 1))
    with pytest.raises(ValueError, match=r"goal must be a cell .* got \(1, 13\)"):
        plan_path(passable, (1, 1, 0), (1, 13))
    with pytest.raises(ValueError, match=r"goal_heading must be one of \(0, 1, 2, 3\) or None, got 5"):
        plan_path(passable, (1, 1, 0), (1, 2), goal_heading=5)
    with pytest.raises(ValueError, match=r"start_pose must be \(row, col, heading\)"):
        plan_path(passable, (1, 1), (1, 2))
    with pytest.raises(ValueError, match=r"sources must hold at least one cell"):
        multi_source_distances(passable, np.zeros((0, 2), dtype=int))
    with pytest.raises(ValueError, match=r"targets must be cells \(row, col\) inside the 7x13 grid, got \(-1, 0\)"):
        distances_to(passable, (1, 1), [(1, 2), (-1, 0)])
