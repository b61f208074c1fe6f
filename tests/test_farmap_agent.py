"""FARMap and Frontier agents (lightning_modules/farmap/agent.py) on the grid world: metric oracles
7.9, the two-room regression 7.10, the LTM graph on real runs (7.6), determinism, coverage."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from neurobolts.datamodules.gridworld import GridWorld, two_rooms_map
from neurobolts.lightning_modules.farmap import EpisodeResult, FragmentationAgent, run_episode

STEPS = 600


@functools.cache
def world(map_id: int) -> GridWorld:
    return GridWorld.from_reference(map_id)


@functools.cache
def episode(map_id: int, agent: str, seed: int, steps: int = STEPS) -> EpisodeResult:
    w = world(map_id)
    return run_episode(w, w.random_start(np.random.default_rng(seed)), steps, agent=agent, seed=seed)


RUNS = [(100, agent, seed) for agent in ("farmap", "frontier") for seed in (0, 1)]


# -- oracle 7.9 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("run", RUNS)
def test_coverage_is_non_decreasing_and_at_most_one(run):
    r = episode(*run)
    assert r.seen_ratio.shape == (STEPS + 1,) and r.poses.shape == (STEPS + 1, 3)
    assert (np.diff(r.seen_ratio) >= 0).all()
    assert r.seen_ratio.max() <= 1.0 and r.seen_ratio[0] > 0
    np.testing.assert_array_equal(r.seen_ratio, r.seen / r.visible_area)
    assert r.visible_area == 1043  # the coverage denominator of map 100 (spec 7.1)
    np.testing.assert_array_equal(r.memory_ratio, r.memory / r.world_size)
    # one move per step: consecutive poses are 4-neighbours (until exploration ends)
    end = r.terminated_at or STEPS
    steps = np.abs(np.diff(r.poses[: end + 1, :2], axis=0)).sum(axis=1)
    assert (steps == 1).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_frontier_memory_never_decreases_and_frontier_never_fragments(seed):
    r = episode(100, "frontier", seed)
    assert (np.diff(r.memory) >= 0).all()
    assert r.fragmentations == [] and r.recalls == [] and r.ltm_subgoals == []
    assert (r.map_id == 0).all() and r.ltm.num_nodes == 1 and r.ltm.num_edges == 0
    assert r.memory[-1] == r.ltm.maps[0].memory  # the whole explored map


@pytest.mark.parametrize("seed", [0, 1])
def test_farmap_memory_drops_at_each_fragmentation(seed):
    r = episode(100, "farmap", seed)
    assert len(r.fragmentations) >= 2
    for t in r.fragmentations:
        assert r.memory[t] < r.memory[t - 1], t
        assert r.memory[t] <= 15 * 15  # the new map holds one view
    # FARMap keeps less active memory than Frontier on this map (the spec's claim, one map, 2 seeds)
    assert r.memory[1:].mean() < episode(100, "frontier", seed).memory[1:].mean()


# -- oracle 7.6 on real runs ----------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_each_fragmentation_adds_one_node_and_one_edge_and_recalls_add_none(seed):
    r = episode(100, "farmap", seed)
    n = len(r.fragmentations)
    assert r.ltm.num_nodes == 1 + n and r.ltm.num_edges == n and len(r.ltm.fractures) == n
    assert len(r.recalls) > 0  # maps were re-entered: no node for those
    assert [f.step for f in r.ltm.fractures] == r.fragmentations
    for k, t in enumerate(r.fragmentations):  # the map created at step t is map k + 1, active at t
        assert r.map_id[t] == k + 1 and r.map_id[:t].max() == k
    # the active map changes only at a fragmentation or a recall
    changes = set(np.flatnonzero(np.diff(r.map_id)) + 1)
    assert changes <= set(r.fragmentations) | set(r.recalls)
    assert not set(r.fragmentations) & set(r.recalls)  # no fragmentation check on a recall step
    # >= 26 scores between fragmentations (min_history), as in oracle 7.5
    assert (np.diff(r.fragmentations) >= 27).all() and r.fragmentations[0] >= 26


@pytest.mark.parametrize("seed", [0, 1])
def test_border_recalls_happen_on_borders_of_the_map_left(seed):
    r = episode(100, "farmap", seed)
    checked = 0
    for t in r.recalls:
        before, after = int(r.map_id[t - 1]), int(r.map_id[t])
        pose = tuple(int(v) for v in r.poses[t])
        fracture = r.ltm.recall(before, pose)
        if fracture is not None:  # a border crossing (the rest are arrivals at LTM subgoals)
            assert fracture.other(before) == after
            checked += 1
    assert checked > 0


# -- oracle 7.10 ----------------------------------------------------------------------------------
def test_first_fragmentation_is_at_the_door_of_two_rooms():
    """Two 7 x 7 rooms (21 x 21 at scale 3) joined by a one-cell door (a 3 x 3 passage). Over 40
    seeds the first fragmentation was at most 3 cells (one unscaled cell) from the passage (32 of 35
    on it) in the 35 runs that fragmented; cells that close are < 10 % of the free cells."""
    room = 7
    w = GridWorld.from_wall_grid(two_rooms_map(room, 1))
    lo, hi = 3 * (room + 1), 3 * (room + 2)
    door = np.argwhere(w.free[:, lo:hi]) + [0, lo]
    assert len(door) == 9
    near_door = 0
    fragmented = 0
    for seed in range(12):
        r = run_episode(w, w.random_start(np.random.default_rng(seed)), 300, agent="farmap", seed=seed)
        if r.fragmentations:
            fragmented += 1
            cell = r.poses[r.fragmentations[0], :2]
            near_door += int(np.abs(door - cell).sum(axis=1).min() <= 3)
    assert fragmented >= 6 and near_door == fragmented
    free = np.argwhere(w.free)
    share = np.mean([np.abs(door - cell).sum(axis=1).min() <= 3 for cell in free])
    assert share < 0.1


# -- determinism and coverage ---------------------------------------------------------------------
@pytest.mark.parametrize("agent", ["farmap", "frontier"])
def test_same_seed_same_episode(agent):
    w = world(100)
    start = w.random_start(np.random.default_rng(0))
    a, b = (run_episode(w, start, 300, agent=agent, seed=3) for _ in range(2))
    for name in ("seen", "memory", "map_id", "poses"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.confidence, b.confidence)
    assert (a.fragmentations, a.recalls, a.ltm_subgoals) == (b.fragmentations, b.recalls, b.ltm_subgoals)
    c = run_episode(w, start, 300, agent=agent, seed=4)
    assert not np.array_equal(a.poses, c.poses)


@pytest.mark.parametrize("agent", ["farmap", "frontier"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_small_map_is_fully_covered(agent, seed):
    r = episode(60, agent, seed, 1000)
    assert r.seen[-1] == r.visible_area == 711
    assert r.steps_to(1.0) is not None and r.steps_to(0.9) <= r.steps_to(1.0)
    if agent == "frontier":  # nothing left to explore: the episode ends and values are carried forward
        end = r.terminated_at
        assert end is not None and end < 1000
        assert (r.poses[end:] == r.poses[end]).all() and (r.seen_ratio[end:] == 1.0).all()
        assert np.isnan(r.confidence[end + 1:]).all()


def test_exploration_ends_when_nothing_is_left():
    """Oracle 7.7 in the loop: a corridor seen end to end leaves no candidate."""
    w = GridWorld.from_wall_grid(np.pad(np.zeros((1, 6), dtype=bool), 1, constant_values=True))
    r = run_episode(w, (4, 4, 1), 200, agent="frontier", seed=0)
    assert r.terminated_at is not None and r.terminated_at < 60
    assert r.seen[-1] == r.visible_area


def test_summary_metrics():
    r = episode(100, "farmap", 0)
    s = r.summary()
    assert s["coverage_auc"] == pytest.approx(r.seen_ratio[1:].mean())
    t90 = s["steps_to_90"]
    assert r.seen_ratio[t90] >= 0.9 and r.seen_ratio[t90 - 1] < 0.9
    assert s["fragmentations"] == len(r.fragmentations) and s["memory_max"] == r.memory.max()
    assert r.steps_per_s > 0 and r.wall_time > 0
    assert r.steps_to(1.01) is None


# -- errors ---------------------------------------------------------------------------------------
def test_bad_arguments():
    w = world(60)
    start = w.random_start(np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"agent must be one of \('farmap', 'frontier'\), got 'random'"):
        run_episode(w, start, 10, agent="random")
    with pytest.raises(ValueError, match=r"num_steps must be an integer >= 1, got 0"):
        run_episode(w, start, 0)
    with pytest.raises(ValueError, match=r"num_steps must be an integer >= 1, got 2.0"):
        FragmentationAgent(w, start).run(2.0)
    with pytest.raises(ValueError, match=r"start_pose must be a free cell .*\(a wall cell\)"):
        run_episode(w, (0, 0, 0), 10)
    with pytest.raises(ValueError, match=r"mode must be one of \('z', 'ratio', 'random', 'uniform'\), got 'zz'"):
        run_episode(w, start, 10, frag_mode="zz")
    with pytest.raises(ValueError, match=r"eps must be a finite number > 0, got -1"):
        run_episode(w, start, 10, eps=-1)


@pytest.mark.parametrize("seed", [0, 3])  # seed 3 travels to an LTM subgoal within 600 steps
def test_no_fragmentation_decision_on_recall_steps_or_ltm_trips(seed):
    w = world(100)
    agent = FragmentationAgent(w, w.random_start(np.random.default_rng(seed)), agent="farmap", seed=seed)
    calls = []
    step = agent.fragmenter.step

    def spy(surprisal, *, decide=True):
        calls.append((agent.t, decide, agent.travelling))
        return step(surprisal, decide=decide)

    agent.fragmenter.step = spy
    r = agent.run(STEPS)
    assert [t for t, _, _ in calls] == list(range(1, STEPS + 1))  # one score per step
    recalls = set(r.recalls)
    for t, decide, travelling in calls:
        assert decide is not (t in recalls or travelling), t
    assert len(recalls) == len(r.recalls)  # one entry per recall step
    travel_steps = sum(travelling for _, _, travelling in calls)
    assert travel_steps >= len(r.ltm_subgoals)
    if seed == 3:
        assert r.ltm_subgoals and travel_steps > 0


def test_no_ping_pong_across_a_border():
    """Regression: map 152, seed 1. Map A's frontier lay in map B's territory and B's in A's; each trip
    there crossed a border (recall), so neither map ever learnt its target and the agent shuttled
    between them from step ~500 on, stuck at 78 % coverage for 1,300 steps. The map that chose the
    subgoal now gives up the target cluster's cells that the other map knows."""
    w = world(152)
    r = run_episode(w, w.random_start(np.random.default_rng(1)), 2000, agent="farmap", seed=1)
    assert r.steps_to(0.9) is not None and r.steps_to(0.9) < 1500
