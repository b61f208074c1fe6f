"""Egocentric views, moves and poses of the grid world (docs/papers/farmap.md section 2.1, oracle 7.2)."""

from __future__ import annotations

import numpy as np
import pytest

from neurobolts.datamodules.gridworld import (
    DELTAS,
    DOWN,
    LEFT,
    RIGHT,
    UNKNOWN,
    UP,
    GridWorld,
    generate_maps,
    reverse,
    turn_back,
)
from neurobolts.datamodules.gridworld.view_geometry import ray

AGENT = (14, 7)


def empty_room(size: int = 41) -> np.ndarray:
    classes = np.zeros((size, size), dtype=np.int32)
    border = np.ones_like(classes, dtype=bool)
    border[1:-1, 1:-1] = False
    classes[border] = np.arange(1, border.sum() + 1)
    return classes


def rotated(world: GridWorld, k: int) -> tuple[GridWorld, callable]:
    """The world turned k times by 90 degrees counter-clockwise, and the matching pose map."""
    turned = GridWorld(np.rot90(world.classes, k).copy())

    def pose(r, c, h):
        H, W = world.shape
        for _ in range(k):
            r, c, h = W - 1 - c, r, (h + 3) % 4
            H, W = W, H
        return r, c, h

    return turned, pose


def test_cone_in_an_empty_room_matches_the_reference_wedge():
    world = GridWorld(empty_room())
    for heading in (UP, RIGHT, DOWN, LEFT):
        view = world.egocentric_view(20, 20, heading)
        assert view.shape == (15, 15) and view.dtype == np.int32
        assert view[AGENT] == 0  # the agent's cell is free and seen
        known = view != UNKNOWN
        assert known[14].tolist() == [c == 7 for c in range(15)]  # agent row: only the agent cell
        assert np.flatnonzero(known[13]).tolist() == list(range(3, 12))  # one row ahead: columns 3-11
        assert np.flatnonzero(known[12]).tolist() == list(range(1, 14))  # two rows ahead: columns 1-13
        assert known[:12].all()  # further ahead: the full width
        assert (view[known] == 0).all()


@pytest.mark.parametrize("heading", [UP, RIGHT, DOWN, LEFT])
def test_a_wall_directly_ahead_hides_its_column(heading):
    classes = empty_room()
    r, c = 20, 20
    wr, wc = np.array([r, c]) + 3 * DELTAS[heading]
    classes[wr, wc] = 999
    view = GridWorld(classes).egocentric_view(r, c, heading)
    assert view[11, 7] == 999  # the wall itself is seen
    assert (view[:11, 7] == UNKNOWN).all()  # everything behind it in that column is hidden
    assert (view[12:14, 7] == 0).all() and view[0, 0] == 0 and view[0, 14] == 0


def test_two_walls_meeting_diagonally_close_the_line_of_sight():
    classes = empty_room()
    r, c = 30, 20  # facing up: view (i, j) is cell (r - 14 + i, c - 7 + j)
    classes[r - 2, c + 1] = 50  # view (12, 8)
    open_corner = GridWorld(classes.copy()).egocentric_view(r, c, UP)
    assert open_corner[12, 8] == 50 and open_corner[11, 10] == 0  # one wall corner: the ray grazes past
    classes[r - 1, c + 2] = 51  # view (13, 9): the two walls now touch at the ray's corner
    closed = GridWorld(classes).egocentric_view(r, c, UP)
    assert closed[11, 10] == UNKNOWN and closed[12, 8] == 50 and closed[13, 9] == 51


def test_ray_cells_and_corners_are_exact():
    assert ray((14, 7), (10, 7)) == ([(13, 7), (12, 7), (11, 7)], [])
    assert ray((14, 7), (11, 10)) == ([(13, 8), (12, 9)], [((13, 7), (14, 8)), ((12, 8), (13, 9)), ((11, 9), (12, 10))])
    cells, corners = ray((14, 7), (0, 6))
    assert len(cells) == 14 and not corners and cells[0] == (13, 7) and cells[-1] == (1, 6)


def test_cells_outside_the_map_are_unknown():
    world = GridWorld(np.zeros((3, 3), dtype=np.int32))  # no border wall: the view runs off the map
    view = world.egocentric_view(2, 1, UP)
    assert (view != UNKNOWN).sum() == 7  # 3 x 3 map, agent row shows only the agent
    assert (view[:12] == UNKNOWN).all()


@pytest.mark.parametrize("source", ["generated", "reference"])
def test_rotating_world_and_heading_gives_the_same_view(source):
    if source == "generated":
        wall = max(generate_maps(8, seed=5), key=lambda m: (~m).sum())
        world = GridWorld.from_wall_grid(wall, scale=3, rng=np.random.default_rng(1))
    else:
        world = GridWorld.from_reference(100)
    rng = np.random.default_rng(0)
    poses = [world.random_start(rng) for _ in range(300)]
    for k in (1, 2, 3):
        turned, pose = rotated(world, k)
        for p in poses:
            assert np.array_equal(world.egocentric_view(*p), turned.egocentric_view(*pose(*p))), (k, p)
    # the check bites: a mirrored world does not give the same views
    mirrored = GridWorld(world.classes[:, ::-1].copy())
    W = world.shape[1]
    flip = {UP: UP, DOWN: DOWN, LEFT: RIGHT, RIGHT: LEFT}
    assert any(not np.array_equal(world.egocentric_view(*p), mirrored.egocentric_view(p[0], W - 1 - p[1], flip[p[2]]))
               for p in poses)


def test_visible_cells_are_the_known_view_cells_in_allocentric_coordinates():
    world = GridWorld.from_reference(100)
    rng = np.random.default_rng(3)
    for _ in range(200):
        r, c, h = world.random_start(rng)
        view = world.egocentric_view(r, c, h)
        rows, cols = world.view_to_allocentric(r, c, h)
        known = view != UNKNOWN
        expected = sorted(zip(rows[known].tolist(), cols[known].tolist(), strict=True))
        got_rows, got_cols = world.visible_cells(r, c, h)
        assert sorted(zip(got_rows.tolist(), got_cols.tolist(), strict=True)) == expected
        assert np.array_equal(world.classes[rows[known], cols[known]], view[known])
        assert (r, c) in expected and rows[AGENT] == r and cols[AGENT] == c


@pytest.mark.parametrize("source", ["reference", "generated"])
def test_all_poses_together_see_exactly_the_visible_area(source):
    """Seen cells never exceed the coverage denominator (free + walls 4-adjacent to free), and every
    such cell is seen from some pose."""
    if source == "reference":
        world = GridWorld.from_reference(5)
    else:
        world = GridWorld.from_wall_grid(min(generate_maps(4, seed=2), key=lambda m: (~m).sum()), scale=3)
    seen = np.zeros(world.shape, dtype=bool)
    for r, c in zip(*np.nonzero(world.free), strict=True):
        for h in range(4):
            rows, cols = world.visible_cells(r, c, h)
            seen[rows, cols] = True
    assert seen.sum() == world.visible_area()
    assert seen[world.free].all()


def test_visible_cells_are_cached_per_pose():
    world = GridWorld.from_reference(150)
    pose = world.random_start(np.random.default_rng(0))
    assert world.cached_poses() == 0
    rows, cols = world.visible_cells(*pose)
    assert world.cached_poses() == 1
    again = world.visible_cells(*pose)
    assert again[0] is rows and again[1] is cols and world.cached_poses() == 1  # no recomputation
    assert not rows.flags.writeable  # the cache cannot be changed through the result
    view = world.egocentric_view(*pose)
    view[:] = 12345
    assert world.cached_poses() == 1 and (world.egocentric_view(*pose) != 12345).any()
    recoloured = world.recoloured(np.random.default_rng(1))
    assert recoloured.visible_cells(*pose)[0] is rows  # same walls, same cache
    assert np.array_equal(recoloured.free, world.free) and not np.array_equal(recoloured.classes, world.classes)


def test_moves_follow_the_heading_rule():
    world = GridWorld.from_wall_grid(np.pad(np.zeros((1, 3), dtype=bool), 1, constant_values=True), scale=1)
    pose = (1, 1, UP)
    assert world.step(pose, RIGHT) == (1, 2, RIGHT)  # move and face the move direction
    assert world.step((1, 2, RIGHT), RIGHT) == (1, 3, RIGHT)
    assert world.step((1, 3, RIGHT), RIGHT) == (1, 3, RIGHT)  # into the wall: refused, pose kept
    assert world.step((1, 3, RIGHT), UP) == (1, 3, RIGHT)
    assert turn_back(world.free, (1, 2, RIGHT)) == (1, 1, LEFT)  # one step back, heading reversed
    assert [reverse(h) for h in (UP, RIGHT, DOWN, LEFT)] == [DOWN, LEFT, UP, RIGHT]
    assert DELTAS.tolist() == [[-1, 0], [0, 1], [1, 0], [0, -1]]
    with pytest.raises(ValueError, match=r"action must be one of \(0, 1, 2, 3\), got 4"):
        world.step(pose, 4)


def test_poses_and_worlds_are_checked():
    world = GridWorld.from_reference(5)
    r, c, h = world.random_start(np.random.default_rng(7))
    assert world.free[r, c] and h in range(4)
    assert world.random_start(np.random.default_rng(7)) == (r, c, h)
    with pytest.raises(ValueError, match=r"start must be a free cell .* got \(0, 0, 0\) \(a wall cell\)"):
        world.check_pose(0, 0, 0)
    with pytest.raises(ValueError, match=r"start must be .* got \(-1, 3, 0\) \(outside the map\)"):
        world.check_pose(-1, 3, 0)
    with pytest.raises(ValueError, match=r"start must be .*heading in 0\.\.3, got \(.*, 4\)"):
        world.check_pose(r, c, 4)
    with pytest.raises(ValueError, match=r"pose must be a free cell .*\(a wall cell\)"):
        world.visible_cells(0, 0, UP)
    with pytest.raises(ValueError, match=r"view_size must be an odd integer >= 3, got 14"):
        GridWorld(world.classes, view_size=14)
    with pytest.raises(ValueError, match=r"fov_ratio must be a finite number in \[0, 1\], got 1\.5"):
        GridWorld(world.classes, fov_ratio=1.5)
    with pytest.raises(ValueError, match=r"classes must be a 2-D integer grid"):
        GridWorld(world.classes.astype(float))
