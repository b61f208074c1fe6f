"""Map Induction worlds and observation models (docs/papers/map_induction.md sections 2.1, 2.2, 3, 6
and oracle 7.6): the grid format (round trip, bad input), the generated repeated-room worlds and
controls, and what each observation mode reveals."""

from __future__ import annotations

import numpy as np
import pytest

from neurobolts.datamodules.map_induction.grid_format import (
    EMPTY,
    REWARD,
    ROOM_DOOR,
    ROOM_WALL,
    UNOBSERVED,
    WALL,
    format_grid,
    parse_grid,
    read_grid,
    write_grid,
)
from neurobolts.datamodules.map_induction.observation import (
    DIRECTIONAL_RANGE,
    LINE_OF_SIGHT_RANGE,
    OBSERVATION_MODES,
    ObservedMap,
    observe,
)
from neurobolts.datamodules.map_induction.worlds import (
    MAX_CELLS,
    MapInductionWorld,
    control_world,
    cpu_worlds,
    repeated_rooms_world,
)

# two rooms joined by a one-cell door (row 5, column 5), coloured walls, an obstacle at (2, 4) that
# leaves a one-cell gap (1, 4) between it and the wall above
TWO_ROOMS = """\
8 9
x
777777777
700000008
705030208
700000008
700000008
333330333
300020003
333333333
"""


def _text(*rows: str, header: tuple[str, str] = ("0", "0")) -> str:
    return "\n".join([*header, *rows]) + "\n"


@pytest.fixture(scope="module")
def worlds():
    return cpu_worlds()


# ------------------------------------------------------------------------------------------------
# grid format
# ------------------------------------------------------------------------------------------------
def test_parse_keeps_header_colours_and_start_and_round_trips(tmp_path):
    world = parse_grid(TWO_ROOMS, name="two_rooms")
    assert world.header == ("8 9", "x") and world.shape == (8, 9) and world.start == (2, 2)
    assert world.grid[2, 2] == EMPTY and world.grid[2, 6] == REWARD and world.grid[0, 0] == WALL
    assert world.wall_colours[0, 8] == 7 and world.wall_colours[1, 8] == 8 and world.wall_colours[5, 0] == 3
    assert world.wall_colours[1, 1] == 0 and world.rewards.tolist() == [[2, 6], [6, 4]]
    assert format_grid(world) == TWO_ROOMS  # the text round trip is exact

    path = write_grid(world, tmp_path / "two_rooms.txt")
    assert (tmp_path / "two_rooms_rooms.txt").is_file()
    again = read_grid(path)
    for field in ("grid", "rooms", "wall_colours"):
        np.testing.assert_array_equal(getattr(again, field), getattr(world, field))
    assert (again.start, again.header, again.name) == (world.start, world.header, "two_rooms")

    generated = cpu_worlds()[2]
    again = read_grid(write_grid(generated, tmp_path / "generated.txt"))
    np.testing.assert_array_equal(again.grid, generated.grid)
    np.testing.assert_array_equal(again.rooms, generated.rooms)
    assert again.start == generated.start


def test_derived_rooms_doors_and_nooks():
    world = parse_grid(TWO_ROOMS)
    rooms = world.rooms
    assert rooms[5, 5] == ROOM_DOOR and (rooms == ROOM_DOOR).sum() == 1  # the doorway between the rooms
    assert ((rooms == ROOM_WALL) == (world.grid == WALL)).all()
    assert world.num_rooms == 2
    assert set(rooms[1:5, 1:8][world.grid[1:5, 1:8] != WALL].tolist()) == {0}  # the upper room
    assert rooms[1, 4] == 0  # the door-like gap above the obstacle touches one room only: it joins it
    assert set(rooms[6, 1:8].tolist()) == {1}  # the lower room: door-like cells that touch one room
    with pytest.raises(ValueError, match=r"line 1: the header gives the size 9 x 8 but the map has 8 rows x 9 columns"):
        parse_grid(TWO_ROOMS.replace("8 9", "9 8"))


def test_rooms_file_defines_rooms(tmp_path):
    (tmp_path / "m.txt").write_text(_text("33333", "30503", "30023", "33333"))
    (tmp_path / "m_rooms.txt").write_text(_text("#####", "#aab#", "#aab#", "#####"))
    world = read_grid(tmp_path / "m.txt")
    assert world.rooms.tolist() == [[-1] * 5, [-1, 0, 0, 1, -1], [-1, 0, 0, 1, -1], [-1] * 5]
    other = tmp_path / "labels.txt"
    other.write_text(_text("#####", "#a+a#", "#a+a#", "#####"))
    world = read_grid(tmp_path / "m.txt", rooms_path=other)
    assert world.rooms[1].tolist() == [-1, 0, ROOM_DOOR, 1, -1]
    with pytest.raises(ValueError, match=r"rooms map must have the map's size 4 x 5, got 3 x 5"):
        read_grid(tmp_path / "m.txt", rooms_path=_write(tmp_path / "small.txt", _text("#####", "#aab#", "#####")))
    with pytest.raises(FileNotFoundError, match="rooms file not found"):
        read_grid(tmp_path / "m.txt", rooms_path=tmp_path / "absent.txt")


def _write(path, text):
    path.write_text(text)
    return path


BAD_MAPS = [
    pytest.param(_text("3333", "35x3", "3203", "3333"), r"line 4, column 3: unknown character 'x'", id="unknown-char"),
    pytest.param(_text("3333", "3503", "3263", "3333"), r"line 5, column 3: unknown character '6'.*fully known",
                 id="unobserved-in-world"),
    pytest.param(_text("3333", "3503", "320", "3333", "33"),
                 r"ragged rows: line 3 \(the first row\) has 4 characters, line 5 has 3, line 7 has 2",
                 id="ragged-rows"),
    pytest.param(_text("3333", "3503", "3003", "3333"), r"no reward", id="no-reward"),
    pytest.param(_text("3333", "3553", "3203", "3333"), r"at most one agent 5, got 2 at line 4 column 2, line 4 "
                 r"column 3", id="two-agents"),
    pytest.param(_text("3333", "3003", "3203", "3333"), r"no agent 5 .* start=\(row, col\)", id="no-agent"),
    pytest.param(_text("3333", "3503", "3203", "3333", header=("4,5", "0")),
                 r"line 1: the header gives the size 4 x 5 but the map has 4 rows x 4 columns", id="header-size"),
    pytest.param("0\n0\n", r"needs 2 header lines and at least one row", id="no-rows"),
    pytest.param(_text("33333", "35033", "33323", "33333"),
                 r"rewards at \(2, 3\) cannot be reached from the start \(1, 1\)", id="unreachable-reward"),
]


@pytest.mark.parametrize(("text", "message"), BAD_MAPS)
def test_bad_maps_fail_clearly(text, message):
    with pytest.raises(ValueError, match=message):
        parse_grid(text, name="bad")


def test_missing_file_and_start_argument(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"map file not found: '.*absent.txt'"):
        read_grid(tmp_path / "absent.txt")
    world = parse_grid(_text("3333", "3003", "3203", "3333"), start=(1, 2))
    assert world.start == (1, 2)
    with pytest.raises(ValueError, match=r"start must be None for a map with an agent 5"):
        parse_grid(_text("3333", "3503", "3203", "3333"), start=(1, 2))
    with pytest.raises(ValueError, match=r"start must be a free cell"):
        parse_grid(_text("3333", "3003", "3203", "3333"), start=(0, 0))


# ------------------------------------------------------------------------------------------------
# generated worlds
# ------------------------------------------------------------------------------------------------
def test_repeated_worlds_repeat_the_template(worlds):
    for world in worlds[:3]:
        s = world.room_size
        assert world.grid.size <= MAX_CELLS and s == 7
        assert world.template.shape == (s, s) and (world.template == REWARD).sum() == 5
        assert not np.array_equal(world.template, world.template[:, ::-1])
        expected_rewards = []
        for k, (r0, c0) in enumerate(world.room_origins):
            block = world.template[:, ::-1] if k in world.reflected_rooms else world.template
            np.testing.assert_array_equal(world.room_grid(k), block)
            expected_rewards += [(r0 + r, c0 + c) for r, c in np.argwhere(block == REWARD).tolist()]
            assert (world.rooms[r0:r0 + s, c0:c0 + s][block != WALL] == k).all()
        assert sorted(map(tuple, world.rewards.tolist())) == sorted(expected_rewards)
        assert world.grid[world.start] == EMPTY and world.rooms[world.start] == 0
    assert [w.num_rooms for w in worlds] == [4, 4, 4, 4]
    assert worlds[0].shape == (17, 17) and worlds[1].shape == (9, 33)
    assert worlds[2].reflected_rooms == (3,) and worlds[0].reflected_rooms == ()


def test_control_rooms_differ_and_generation_is_deterministic(worlds):
    control = worlds[3]
    assert control.template is None
    blocks = [control.room_grid(k) for k in range(control.num_rooms)]
    for i in range(len(blocks)):
        assert (blocks[i] == REWARD).sum() == 5
        for j in range(i):
            assert not np.array_equal(blocks[i], blocks[j])
            assert not np.array_equal(blocks[i], blocks[j][:, ::-1])
    for a, b in zip(worlds, cpu_worlds(), strict=True):
        np.testing.assert_array_equal(a.grid, b.grid)
        assert a.name == b.name
    assert not np.array_equal(repeated_rooms_world(template_seed=5).grid, repeated_rooms_world(template_seed=6).grid)
    assert not np.array_equal(control_world(seed=5).grid, control_world(seed=6).grid)


def test_generator_and_world_arguments_are_checked(worlds):
    with pytest.raises(ValueError, match=r"layout must be one of \('2x2', '1x4', '3x3', '2x4'\), got '4x4'"):
        repeated_rooms_world("4x4")
    with pytest.raises(ValueError, match=r"room_size must keep the world within 900 cells"):
        repeated_rooms_world("2x2", room_size=14)
    with pytest.raises(ValueError, match=r"obstacle_density must be a finite number in \[0, 0.5\], got 0.9"):
        control_world(obstacle_density=0.9)
    with pytest.raises(ValueError, match=r"n_rewards must be at most"):
        repeated_rooms_world(room_size=3, n_rewards=9)
    world = worlds[0]
    assert not world.grid.flags.writeable and not world.rooms.flags.writeable
    with pytest.raises(ValueError, match=r"rooms must be -1 exactly on the walls"):
        MapInductionWorld(grid=world.grid, rooms=np.zeros(world.shape, dtype=int), start=world.start)


# ------------------------------------------------------------------------------------------------
# observation models (oracle 7.6)
# ------------------------------------------------------------------------------------------------
def test_room_mode_reveals_exactly_the_room(worlds):
    for world in worlds:
        s = world.room_size
        for k, (r0, c0) in enumerate(world.room_origins):
            for cell in map(tuple, world.room_cells(k)[[0, -1]].tolist()):
                mask = observe(world, cell, "room")
                np.testing.assert_array_equal(mask & (world.rooms >= 0), world.rooms == k)
                box = np.zeros(world.shape, dtype=bool)
                box[r0 - 1:r0 + s + 1, c0 - 1:c0 + s + 1] = True  # the room, its wall ring and doors
                np.testing.assert_array_equal(mask, box)
    world = worlds[0]
    door = world.rooms == ROOM_DOOR
    door_cell = tuple(np.argwhere(door)[0].tolist())
    mask = observe(world, door_cell, "room")
    seen_rooms = set(world.rooms[mask & (world.rooms >= 0)].tolist())
    assert len(seen_rooms) == 2  # a doorway shows the two rooms it joins


def test_room_mode_shows_the_box_behind_obstacles_and_not_past_thick_walls():
    # room A (columns 1-7) with obstacles in its top-right corner and an enclosed 3 x 3 block, a wall
    # two cells thick (columns 8-9) crossed by a two-cell doorway in row 4, room B (columns 10-13)
    world = parse_grid(_text("333333333333333", "350000333300003", "300000033300003", "300000003300003",
                             "300333000000023", "300333003300003", "300333003300003", "300000003300003",
                             "333333333333333"))
    assert world.num_rooms == 2 and world.rooms[4, 8] == world.rooms[4, 9] == ROOM_DOOR
    box = np.zeros(world.shape, dtype=bool)
    box[:, :9] = True
    np.testing.assert_array_equal(observe(world, world.start, "room"), box)
    box[:] = False
    box[:, 9:] = True
    np.testing.assert_array_equal(observe(world, (1, 10), "room"), box)
    assert observe(world, (4, 9), "room").all()  # the doorway shows both rooms


def test_entering_a_room_updates_the_observed_map(worlds):
    world = worlds[0]
    observed = ObservedMap(world)
    assert observed.observe(world.start, "room") == 81 and observed.observed_fraction == pytest.approx(81 / 289)
    assert observed.observe(world.start, "room") == 0
    known = observed.known
    assert not known.flags.writeable
    np.testing.assert_array_equal(known[:9, :9], world.grid[:9, :9])
    assert (known[9:] == UNOBSERVED).all() and (known[:, 9:] == UNOBSERVED).all()
    next_room = tuple(world.room_cells(1)[0].tolist())
    assert observed.observe(next_room, "room") == 72  # room 1's box shares one wall column with room 0's


@pytest.mark.parametrize(("mode", "radius"), [("fixed_radius", 1), ("fixed_radius_med", 2)])
def test_fixed_radius_reveals_the_square_clipped_to_the_map(mode, radius, worlds):
    world = worlds[1]
    rows, cols = np.indices(world.shape)
    for cell in map(tuple, np.argwhere(world.free)[::5].tolist()):
        square = np.maximum(np.abs(rows - cell[0]), np.abs(cols - cell[1])) <= radius
        np.testing.assert_array_equal(observe(world, cell, mode), square)
    open_map = parse_grid(_text("500000", "000000", "000002"))
    assert observe(open_map, (0, 0), mode).sum() == (radius + 1) ** 2  # clipped at the corner
    assert observe(open_map, (1, 2), mode).sum() == {1: 9, 2: 15}[radius]


def test_line_of_sight_is_stopped_by_walls_and_rewards():
    world = parse_grid(_text("0000000000", "0500300000", "0002000000", "0000000000", "2000000000"))
    mask = observe(world, world.start, "line_of_sight")
    assert mask[1, 3] and mask[1, 4] and not mask[1, 5] and not mask[1, 6]  # the wall is seen, not what is behind
    assert mask[2, 3] and not mask[3, 5] and mask[3, 1]  # the ray (1, 1) -> (3, 5) crosses the reward at (2, 3)
    open_map = parse_grid(_text("5" + "0" * 9, "0" * 9 + "2"))
    mask = observe(open_map, (0, 0), "line_of_sight")
    assert mask[0, LINE_OF_SIGHT_RANGE] and not mask[0, LINE_OF_SIGHT_RANGE + 1]
    assert mask[1, 4] and not mask[1, 5]  # 1 + 16 <= 25 < 1 + 25

    observed = ObservedMap(world)
    observed.observe(world.start, "line_of_sight")
    assert observed.known[2, 3] == REWARD and observed.known[3, 5] == UNOBSERVED
    assert observed.collect((2, 3)) and not observed.collect((2, 3))
    assert observed.known[2, 3] == EMPTY and world.grid[2, 3] == REWARD  # the world stays as it was
    assert observed.observe(world.start, "line_of_sight") > 0 and observed.known[3, 5] == EMPTY
    assert observed.remaining_rewards.tolist() == [[4, 0]] and not observed.all_collected


def test_directional_cone_sees_ahead_not_behind():
    world = parse_grid(_text(*["0" * 35] * 9, "05" + "0" * 32 + "2", *["0" * 35] * 9))
    agent = (9, 1)
    right = observe(world, agent, "directional_line_of_sight", heading=1)
    assert right[agent] and right[9, 1 + DIRECTIONAL_RANGE] and not right[9, 2 + DIRECTIONAL_RANGE]
    assert not right[9, 0] and not right[8, 1] and not right[10, 0]  # behind and beside
    assert right[9 - 3, 1 + 3] and not right[9 - 3, 1 + 2]  # the 90 degree cone: ahead >= |side|
    up = observe(world, (9, 10), "directional_line_of_sight", heading=0)
    assert up[0, 10] and not up[10, 10] and not up[9, 11] and up[5, 14] and not up[5, 15]
    walled = parse_grid(_text("500300000", "000000002"))
    mask = observe(walled, (0, 0), "directional_line_of_sight", heading=1)
    assert mask[0, 3] and not mask[0, 4]


def test_observation_arguments_are_checked(worlds):
    world = worlds[0]
    with pytest.raises(ValueError, match=r"mode must be one of \('room', 'fixed_radius', 'fixed_radius_med', "
                                         r"'line_of_sight', 'directional_line_of_sight'\), got 'sonar'"):
        observe(world, world.start, "sonar")
    with pytest.raises(ValueError, match=r"heading must be one of \(0, 1, 2, 3\), got None"):
        observe(world, world.start, "directional_line_of_sight")
    with pytest.raises(ValueError, match=r"cell must be a free cell"):
        observe(world, (0, 0), "room")
    with pytest.raises(ValueError, match=r"mask must be a bool grid of the world's shape"):
        ObservedMap(world).update(np.ones((3, 3), dtype=bool))
    assert set(OBSERVATION_MODES) == {"room", "fixed_radius", "fixed_radius_med", "line_of_sight",
                                      "directional_line_of_sight"}
