"""Map Induction's human-fit analysis (docs/papers/map_induction.md sections 3 and 4): the behaviour CSV
reader, Unity positions to cells, room transitions, first-new-room visit counts of POMCP and the
per-transition log-likelihood of a path under the Uniform / MAP / D-POMCP agents. The human data may
not be redistributed: every CSV here is written from a trajectory of an agent."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from neurobolts.datamodules.map_induction.behaviour import (
    CellOffsets,
    check_cell_path,
    connect_path,
    load_offsets,
    read_behaviour_csv,
    room_transitions,
)
from neurobolts.datamodules.map_induction.worlds import cpu_worlds
from neurobolts.lightning_modules.map_induction.agents import run_episode
from neurobolts.lightning_modules.map_induction.human_fit import (
    compare_models,
    decision_steps,
    transition_log_likelihood,
)
from neurobolts.lightning_modules.map_induction.navigation import NavigationModel
from neurobolts.lightning_modules.map_induction.pomcp import POMCP
from neurobolts.lightning_modules.map_induction.room_visits import FirstRoomRecorder, first_room_visits

OFFSETS = {"x0": -12.5, "z0": 40.0, "cell_size": 2.0, "flip_z": True}


@pytest.fixture(scope="module")
def world():
    return cpu_worlds()[0]  # repeated_2x2: 4 rooms of 7 x 7, 17 x 17 cells


@pytest.fixture(scope="module")
def trajectory(world):
    """A Uniform-POMCP episode's cell path (94 cells, 3 room transitions at the time of writing)."""
    episode = run_episode(world, "uniform", seed=0, max_steps=200)
    assert episode.all_collected
    return [tuple(int(v) for v in cell) for cell in episode.trajectory]


def collapse(cells):
    return [cell for i, cell in enumerate(cells) if i == 0 or cell != cells[i - 1]]


def frames_of(cells, offsets=OFFSETS, seed=0):
    """Unity frames (time, x, z, angle, diamonds) of a cell path: 1-3 frames per cell at random points
    inside the cell (the inverse of the documented transform, flip_z)."""
    rng = np.random.default_rng(seed)
    size = offsets["cell_size"]
    frames, t = [], 0.0
    for r, c in cells:
        for _ in range(int(rng.integers(1, 4))):
            u, v = rng.uniform(0.05, 0.95, size=2)
            x = offsets["x0"] + (c + u) * size
            z = offsets["z0"] - (r + v) * size
            frames.append((round(t, 4), x, z, float(rng.uniform(0, 360)), 0))
            t += 0.05
    return frames


def write_unity_rows(path, trials: dict, comment: str = "No strategy, just memory.") -> None:
    """The Unity export's layout: header lines, then per trial one line per series."""
    lines = ["Age,29", "Gender,f", "ID,0000000", "Version,4.0", ""]
    for name, frames in trials.items():
        columns = list(zip(*frames, strict=True))
        for label, values in zip(("Time", "Diamonds", "X Position", "Z Position", "Camera Angle"),
                                 (columns[0], columns[4], columns[1], columns[2], columns[3]), strict=True):
            lines.append(f"{name} {label}," + ",".join(repr(float(v)) for v in values))
        lines += [f"{name} Start Time,7/14/2021 5:30:46 PM", f"{name} End Time,7/14/2021 5:31:01 PM", ""]
    lines += [f'Comment,"{comment}"', ""]
    path.write_text("\n".join(lines))


# --- reading the CSV: round trips ----------------------------------------------------------------

def test_unity_row_layout_round_trips_to_the_cell_path(tmp_path, trajectory):
    path = tmp_path / "data_subject.csv"
    frames = frames_of(trajectory)
    other = frames_of(trajectory[:10], seed=1)
    write_unity_rows(path, {"prac1": other, "test1 Reflect": frames})
    human = read_behaviour_csv(path, offsets=OFFSETS, trial="test1_reflect")
    assert human.trial == "test1 Reflect"
    assert human.cell_path() == collapse(trajectory)
    assert human.n_frames == len(frames) > len(collapse(trajectory))  # repeated frames were collapsed
    np.testing.assert_allclose(human.frame_times, [f[0] for f in frames])
    np.testing.assert_allclose(human.times, human.frame_times[human.first_frames])
    assert human.angles is not None and human.diamonds is not None
    assert human.metadata["Age"] == ("29",)
    assert human.metadata["Comment"] == ("No strategy, just memory.",)
    assert human.metadata["test1 Reflect Start Time"] == ("7/14/2021 5:30:46 PM",)
    assert read_behaviour_csv(path, offsets=OFFSETS, trial="PRAC1").cell_path() == collapse(trajectory[:10])


def test_column_layout_with_per_map_offsets_files(tmp_path, trajectory):
    frames = frames_of(trajectory, seed=2)
    header = "T,Pos_X,pos z,Camera_Angle,Diamonds Collected,Trial,Quiz"
    body = [f"{t},{x},{z},{a},{d},test2,{'A' if i == 0 else ''}" for i, (t, x, z, a, d) in enumerate(frames)]
    path = tmp_path / "columns.csv"
    path.write_text("\n".join(["Subject,42", header, *body, "", "Comments,none"]) + "\n")
    yaml_offsets = tmp_path / "exp_params.yaml"
    yaml_offsets.write_text("cell_size: 2.0\nflip_z: true\ntest1: {x0: 0.0, z0: 0.0}\n"
                            f"test2: {{x0: {OFFSETS['x0']}, z0: {OFFSETS['z0']}}}\n")
    human = read_behaviour_csv(path, offsets=yaml_offsets)
    assert human.trial == "test2"
    assert human.cell_path() == collapse(trajectory)
    assert human.metadata["Subject"] == ("42",) and human.metadata["Comments"] == ("none",)
    assert human.metadata["Quiz"][0] == "A"
    json_offsets = tmp_path / "offsets.json"
    json_offsets.write_text(json.dumps(OFFSETS))
    assert read_behaviour_csv(path, offsets=json_offsets).cell_path() == collapse(trajectory)


def test_cell_transform_is_the_documented_one():
    offsets = CellOffsets(x0=-10.0, z0=5.0, cell_size=2.0)
    # col = floor((x - x0) / size), row = floor((z - z0) / size)
    cells = offsets.cells([-10.0, -8.01, -8.0, -10.5], [5.0, 6.99, 7.0, 4.0])
    assert cells.tolist() == [[0, 0], [0, 0], [1, 1], [-1, -1]]
    flipped = CellOffsets(x0=0.0, z0=10.0, cell_size=1.0, flip_z=True)  # row = floor((z0 - z) / size)
    assert flipped.cells([0.5, 3.2], [9.5, 7.9]).tolist() == [[0, 0], [2, 3]]
    assert load_offsets(None) == CellOffsets()
    assert load_offsets({"x0": 1, "z0": 2}) == CellOffsets(1.0, 2.0, 1.0, False)


# --- reading the CSV: bad inputs ---------------------------------------------------------------------

def test_missing_columns_name_the_columns_and_the_file(tmp_path):
    path = tmp_path / "no_z.csv"
    path.write_text("time,x,angle\n0,1,0\n0.1,1,0\n")
    with pytest.raises(ValueError, match=r"(?s)no_z\.csv.*missing column\(s\) z \(accepted names: z/pos_z"):
        read_behaviour_csv(path)
    rows = tmp_path / "rows.csv"
    rows.write_text("Age,29\nprac1 Time,0,0.1\nprac1 Camera Angle,0,1\n")
    with pytest.raises(ValueError, match=r"(?s)rows\.csv.*missing series for trial 'prac1': x \(.*\), z \("):
        read_behaviour_csv(rows)
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match="empty"):
        read_behaviour_csv(empty)
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        read_behaviour_csv(tmp_path / "nowhere.csv")


def test_a_non_numeric_value_names_the_line_and_the_value(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("time,x,z\n0,1.5,2.5\n0.1,abc,2.5\n")
    with pytest.raises(ValueError, match=r"bad\.csv', line 3, column 'x': must be a finite number, got 'abc'"):
        read_behaviour_csv(path)
    rows = tmp_path / "bad_rows.csv"
    rows.write_text("test1 Time,0,0.1\ntest1 X Position,1,nan\ntest1 Z Position,1,2\n")
    with pytest.raises(ValueError, match=r"line 2 \(test1 x\), value 2: must be a finite number, got 'nan'"):
        read_behaviour_csv(rows)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("test1 Time,0,0.1\ntest1 X Position,1,2\ntest1 Z Position,1\n")
    with pytest.raises(ValueError, match="one length"):
        read_behaviour_csv(ragged)


def test_trial_selection_and_offsets_errors(tmp_path, trajectory):
    path = tmp_path / "two.csv"
    write_unity_rows(path, {"test1": frames_of(trajectory[:5]), "test2": frames_of(trajectory[:5], seed=3)})
    with pytest.raises(ValueError, match=r"several trials \['test1', 'test2'\]; pass trial="):
        read_behaviour_csv(path)
    with pytest.raises(ValueError, match=r"no trial 'test9'; the trials with positions are \['test1', 'test2'\]"):
        read_behaviour_csv(path, trial="test9")
    with pytest.raises(ValueError, match=r"per-map sections \['other'\] but none for trial 'test1'"):
        read_behaviour_csv(path, offsets={"other": {"x0": 1.0}}, trial="test1")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['x_0'\]"):
        load_offsets({"x_0": 1.0})
    with pytest.raises(ValueError, match="cell_size must be a finite number > 0"):
        load_offsets({"cell_size": 0})
    with pytest.raises(ValueError, match="flip_z must be a bool"):
        load_offsets({"flip_z": "yes"})
    bad_suffix = tmp_path / "offsets.txt"
    bad_suffix.write_text("x0: 1")
    with pytest.raises(ValueError, match="must be a .yaml, .yml or .json file"):
        load_offsets(bad_suffix)


# --- cell paths and room transitions ---------------------------------------------------------------

def test_room_transitions_follow_the_rooms_of_the_path(world, trajectory):
    transitions = room_transitions(world, trajectory)
    rooms = [int(world.rooms[cell]) for cell in trajectory]
    in_rooms = [room for room in rooms if room >= 0]
    visited = [room for i, room in enumerate(in_rooms) if i == 0 or room != in_rooms[i - 1]]
    assert len(transitions) >= 2
    assert [visited[0], *(t.to_room for t in transitions)] == visited
    assert [t.from_room for t in transitions] == visited[:-1]
    for t in transitions:
        assert t.cell == trajectory[t.step] and rooms[t.step] == t.to_room
        before = [room for room in rooms[:t.step] if room >= 0]
        assert before[-1] == t.from_room


def test_a_doorway_visit_is_not_a_transition(world):
    """Room 0 -> its door to room 1 -> back into room 0 -> through the door into room 1: one transition."""
    door = next(cell for cell in map(tuple, np.argwhere(world.rooms == -2))
                if {int(world.rooms[cell[0], cell[1] - 1]), int(world.rooms[cell[0], cell[1] + 1])} == {0, 1})
    r, c = int(door[0]), int(door[1])
    path = [(r, c - 1), (r, c), (r, c - 1), (r, c), (r, c + 1)]  # the cells next to a door are kept free
    transitions = room_transitions(world, path)
    assert [(t.step, t.from_room, t.to_room, t.cell) for t in transitions] == [(4, 0, 1, (r, c + 1))]
    assert room_transitions(world, [(r, c)]) == []


def test_cell_path_errors_name_the_step_and_the_cell(world):
    free = [tuple(int(v) for v in cell) for cell in np.argwhere(world.free)]
    wall = tuple(int(v) for v in np.argwhere(~world.free)[0])
    start = world.start
    with pytest.raises(ValueError, match=r"step 1: cell \(17, 3\) leaves the 17x17 map 'repeated_2x2'"):
        check_cell_path(world, [start, (17, 3)])
    with pytest.raises(ValueError, match=rf"step 2: cell \({wall[0]}, {wall[1]}\) is a wall"):
        check_cell_path(world, [start, start, wall])
    with pytest.raises(ValueError, match=r"cells\[1\] \(step 1\) must be a cell \(row, col\) of two integers, got "
                                         r"\('a', 1\)"):
        check_cell_path(world, [start, ("a", 1)])
    with pytest.raises(ValueError, match=r"got \(1\.5, 2\)"):
        check_cell_path(world, [(1.5, 2)])
    with pytest.raises(ValueError, match="at least one cell"):
        check_cell_path(world, [])
    far = next(cell for cell in free if abs(cell[0] - start[0]) + abs(cell[1] - start[1]) == 3)
    with pytest.raises(ValueError, match=r"step 1: the move from .* is not one step to a 4-neighbour"):
        check_cell_path(world, [start, far], connected=True)


def test_connect_path_fills_diagonal_frames(world, trajectory):
    """Dropping every other cell of a connected path leaves jumps of up to 2 moves; connect_path joins
    them into a connected path through the kept cells."""
    sparse = trajectory[::2]
    joined = connect_path(world, sparse)
    assert check_cell_path(world, joined, connected=True) == joined
    kept = iter(sparse)
    target = next(kept)
    for cell in joined:  # the kept cells appear in order
        if cell == target:
            target = next(kept, None)
    assert target is None
    far = next(cell for cell in trajectory if abs(cell[0] - trajectory[0][0]) + abs(cell[1] - trajectory[0][1]) == 4)
    with pytest.raises(ValueError, match=r"step 1: cell .* is 4 moves from the previous cell .*more than max_gap=2"):
        connect_path(world, [trajectory[0], far])


# --- first-new-room visit counts -------------------------------------------------------------------

def test_recorder_keeps_the_search_and_counts_whole_paths(world):
    """Searching on the recorder gives the same tree as on the model; the tree counts of each room are
    at most its path counts; the path counts sum to at most the number of simulations."""
    known = np.asarray(world.grid).copy()
    model = NavigationModel(known[None], np.ones(1), (known == 2)[None], known)
    door = next(cell for cell in map(tuple, np.argwhere(world.rooms == -2))
                if {int(world.rooms[cell[0], cell[1] - 1]), int(world.rooms[cell[0], cell[1] + 1])} == {0, 1})
    cell = (int(door[0]), int(door[1]) - 2)  # two cells inside room 0, in front of the door to room 1
    bare = POMCP(model, tree_queries=150, max_depth=10)
    bare.plan(model.belief(cell), 7)
    recorder = FirstRoomRecorder(model, world.rooms, 0)
    planner = POMCP(recorder, tree_queries=150, max_depth=10)
    planner.plan(recorder.belief(model.belief(cell)), 7)
    a, b = bare.root_statistics(), planner.root_statistics()
    assert a.actions == b.actions and np.array_equal(a.visits, b.visits) and np.allclose(a.values, b.values)
    paths, tree = recorder.counts, first_room_visits(planner, world.rooms, 0)
    assert 0 not in paths and 0 not in tree and tree.get(1, 0) > 0
    assert all(tree[room] <= paths.get(room, 0) for room in tree)
    assert sum(paths.values()) <= 150 and recorder.simulations == 151  # plus one draw for the root's actions
    with pytest.raises(ValueError, match="keep particles"):
        first_room_visits(POMCP(model, keep_particles=False), world.rooms, 0)
    with pytest.raises(ValueError, match="needs a search first"):
        first_room_visits(POMCP(model), world.rooms, 0)


# --- the log-likelihood of a path --------------------------------------------------------------------

@pytest.fixture(scope="module")
def read_back(tmp_path_factory, trajectory):
    path = tmp_path_factory.mktemp("human") / "data.csv"
    write_unity_rows(path, {"test1": frames_of(trajectory, seed=5)})
    return read_behaviour_csv(path, offsets=OFFSETS).cell_path()


@pytest.mark.parametrize("agent", ["uniform", "map", "dpomcp"])
def test_one_finite_log_probability_per_transition(world, read_back, agent):
    fit = transition_log_likelihood(world, read_back, agent, seed=3)
    transitions = room_transitions(world, read_back)
    n_rooms = int(world.rooms.max()) + 1
    assert len(fit.transitions) == len(transitions) >= 2
    for record, transition in zip(fit.transitions, transitions, strict=True):
        assert (record.step, record.from_room, record.to_room, record.cell) == tuple(transition)
        assert math.isfinite(record.log_probability) and record.log_probability <= 0.0
        assert 0.0 < record.probability <= 1.0 and record.log_probability == math.log(record.probability)
        assert sorted(record.probabilities) == [r for r in range(n_rooms) if r != record.from_room]
        # (n + eps) / (N + eps K) over K <= 8 candidate rooms in float64: the sum is 1 up to K x 2^-53 ~ 1e-15
        assert sum(record.probabilities.values()) <= 1.0 + 1e-12
        assert sum(record.probabilities.values()) == pytest.approx(1.0)
        # departure: the last cell of the room being left
        assert record.decision_step < record.step
        assert int(world.rooms[record.decision_cell]) == record.from_room
        assert all(int(world.rooms[c]) < 0 for c in read_back[record.decision_step + 1:record.step])
        assert sum(record.visits.values()) > 0
    assert fit.log_likelihood == pytest.approx(sum(r.log_probability for r in fit.transitions))
    assert fit.agent == agent and fit.n_steps == len(read_back) - 1


def test_smoothing_gives_a_room_no_path_entered_a_finite_log_probability(world, read_back):
    """One tree query cannot reach a new room from where a room was entered: every count is 0, so each
    of the K = 3 candidates gets epsilon / (K epsilon) = 1/3."""
    fit = transition_log_likelihood(world, read_back, "uniform", tree_queries=1, decision_point="entry",
                                    count="tree", epsilon=0.25)
    assert fit.transitions and all(r.visits == {} for r in fit.transitions)
    assert all(r.probability == pytest.approx(1 / 3) for r in fit.transitions)
    assert fit.log_likelihood == pytest.approx(len(fit.transitions) * math.log(1 / 3))


def test_decision_points_lie_in_the_room_being_left(world, read_back):
    transitions = room_transitions(world, read_back)
    entry = decision_steps(world, read_back, "entry")
    update = decision_steps(world, read_back, "last_update")
    departure = decision_steps(world, read_back, "departure")
    for k, t in enumerate(transitions):
        assert entry[k] <= update[k] <= departure[k] < t.step
        assert entry[k] == (transitions[k - 1].step if k else 0)
        for steps in (entry, update, departure):
            assert int(world.rooms[read_back[steps[k]]]) == t.from_room


def test_compare_models_and_determinism(world, read_back):
    scores = compare_models(world, read_back, seed=4)
    assert list(scores) == ["uniform", "map", "dpomcp"]
    assert all(math.isfinite(v) and v <= 0 for v in scores.values())
    assert scores["map"] == transition_log_likelihood(world, read_back, "map", seed=4).log_likelihood
    assert compare_models(world, read_back, agents=["dpomcp"], seed=4) == {"dpomcp": scores["dpomcp"]}
    still = transition_log_likelihood(world, [world.start, world.start], "uniform")
    assert still.transitions == () and still.log_likelihood == 0.0


def test_bad_inputs_of_the_fit(world, read_back):
    with pytest.raises(ValueError, match=r"agent must be one of \('uniform', 'map', 'dpomcp'\), got 'random'"):
        transition_log_likelihood(world, read_back, "random")
    with pytest.raises(ValueError, match="got 'bogus'"):
        compare_models(world, read_back, agents=("uniform", "bogus"))
    with pytest.raises(ValueError, match="must not repeat"):
        compare_models(world, read_back, agents=("map", "map"))
    with pytest.raises(ValueError, match="decision_point must be one of"):
        transition_log_likelihood(world, read_back, "map", decision_point="exit")
    with pytest.raises(ValueError, match="epsilon must be a finite number > 0"):
        transition_log_likelihood(world, read_back, "map", epsilon=0)
    i = next(i for i in range(1, len(read_back) - 1)
             if abs(read_back[i - 1][0] - read_back[i + 1][0]) + abs(read_back[i - 1][1] - read_back[i + 1][1]) == 2)
    with pytest.raises(ValueError, match=rf"step {i}: the move from .* is not one step to a 4-neighbour"):
        transition_log_likelihood(world, read_back[:i] + read_back[i + 1:], "uniform")
    wall = tuple(int(v) for v in np.argwhere(~world.free)[0])
    with pytest.raises(ValueError, match=rf"step 1: cell \({wall[0]}, {wall[1]}\) is a wall"):
        transition_log_likelihood(world, [world.start, wall], "uniform")
    with pytest.raises(ValueError, match=r"step 1: cell \(-1, 0\) leaves the 17x17 map"):
        transition_log_likelihood(world, [world.start, (-1, 0)], "uniform")
