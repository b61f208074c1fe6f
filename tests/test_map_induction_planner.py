"""Map Induction's planner and agents (docs/papers/map_induction.md sections 2.6, 2.7, 4, 6; oracles 7.7
and 7.9 at the agent level): POMCP on the navigation model and on Tiger, the episode loop of the
agents, their bookkeeping and their errors."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest

from neurobolts.datamodules.gridworld.headings import DELTAS
from neurobolts.datamodules.map_induction.grid_format import EMPTY, REWARD, UNOBSERVED, WALL
from neurobolts.datamodules.map_induction.worlds import cpu_worlds, repeated_rooms_world
from neurobolts.lightning_modules.map_induction.agents import AGENTS, run_episode
from neurobolts.lightning_modules.map_induction.navigation import NavigationModel, frontier_bonus
from neurobolts.lightning_modules.map_induction.pomcp import (
    HEAR_LEFT,
    LISTEN,
    OPEN_RIGHT,
    POMCP,
    TIGER_LEFT,
    GenerativeModel,
    TigerProblem,
    weighted_sampler,
)


@pytest.fixture(scope="module")
def worlds():
    return {w.name: w for w in cpu_worlds()}


@pytest.fixture(scope="module")
def tiny_world():
    """1 x 4 rooms of 3 x 3, one reward per room (9 x 17 cells)."""
    return repeated_rooms_world("1x4", room_size=3, n_rewards=1, obstacle_density=0.0)


# --- oracle 7.7: a fully observed reward one step away ------------------------------------------

def test_pomcp_takes_an_adjacent_reward_oracle_7_7(worlds):
    """Every (cell, reward) pair of repeated_2x2 with the reward the only one left on the fully observed
    map (40 decisions, CPU settings: 200 queries, depth 15, gamma 0.9, c 1, the default optimism and
    reward-map scale): the move onto the reward in >= 95 % of decisions."""
    world = worlds["repeated_2x2"]
    grid = world.grid
    cases = []
    for r, c in world.rewards:
        for action, (dr, dc) in enumerate(DELTAS):
            cell = (int(r - dr), int(c - dc))
            if grid[cell] == EMPTY:
                cases.append((cell, (int(r), int(c)), action))
    cases = cases[:40]
    assert len(cases) == 40
    hits = 0
    for seed, (cell, reward, action) in enumerate(cases):
        known = np.where(grid == REWARD, EMPTY, grid).astype(np.int8)
        known[reward] = REWARD
        model = NavigationModel(known[None], [1.0], (known == REWARD)[None], known)
        planner = POMCP(model, tree_queries=200, max_depth=15, gamma=0.9, ucb_c=1.0)
        hits += planner.plan(model.belief(cell), np.random.default_rng(seed)) == action
    assert hits / len(cases) >= 0.95


# --- the navigation model -----------------------------------------------------------------------

def test_navigation_model_moves_rewards_and_observations():
    """Moves on the particle's map (UNOBSERVED passable, walls refuse), a reward paid once, the
    observation (cell, collected), legal moves from the observed walls, shaping from the frontier."""
    known = np.full((3, 4), EMPTY, dtype=np.int8)
    known[0, :] = WALL
    known[1, 3] = UNOBSERVED
    known[2, 2] = REWARD
    walled = known.copy()
    walled[1, 3] = WALL  # a hypothesis with a wall where the agent has not looked
    rewards = (known == REWARD)[None].repeat(2, axis=0)
    model = NavigationModel(np.stack([known, walled]), [0.5, 0.5], rewards, known, optimism=0.0,
                            reward_map_scale=0.0)
    right, down, up = 1, 2, 0
    start = model.initial_state((1, 2), 0)
    assert up not in model.legal_actions(start)  # a wall of the observed map
    assert right in model.legal_actions(start)  # an unobserved cell stays legal
    rng = random.Random(0)
    (cell, remaining, h), observation, reward, done = model.step(start, right, rng)
    assert (model.cell_of(cell), reward, done, observation) == ((1, 3), 0.0, False, 2 * cell)
    state, observation, reward, _ = model.step(model.initial_state((1, 2), 1), right, rng)
    assert model.cell_of(state[0]) == (1, 2) and reward == 0.0  # refused by hypothesis 1's wall
    state, observation, reward, _ = model.step(start, down, rng)
    assert reward == 1.0 and observation == 2 * state[0] + 1
    back, _, _, _ = model.step(state, up, rng)
    again, observation, reward, _ = model.step(back, down, rng)
    assert reward == 0.0 and observation % 2 == 0  # collected once
    bonus = frontier_bonus(known)
    assert bonus[1, 3] == 1.0 and bonus[1, 2] == 0.5 and bonus[0, 0] == 0.0


def test_fast_rollout_equals_the_step_loop(worlds):
    """navigation.py's rollout is the default rollout of its step and rollout policy (same draws)."""
    world = worlds["repeated_2x2_reflected"]
    known = world.grid.copy()
    known[9:, :] = UNOBSERVED
    model = NavigationModel(np.stack([world.grid, known]), [0.7, 0.3],
                            np.stack([world.grid == REWARD, known == REWARD]), known)
    for seed in range(5):
        state = model.initial_state(world.start, seed % 2)
        fast = model.rollout(state, 15, 0.9, random.Random(seed))
        loop = GenerativeModel.rollout(model, state, 15, 0.9, random.Random(seed))
        assert fast == pytest.approx(loop, rel=1e-12, abs=1e-15)


# --- Tiger ---------------------------------------------------------------------------------------

def test_pomcp_on_tiger_listens_first_then_opens_the_safe_door():
    """From a uniform belief the first decision is to listen (both variants of the problem); after three
    consistent 'hear left' (belief 0.994 left) it opens the right door (episodic variant, module
    docstring of pomcp.py); the particle update after 'hear left' leans left."""
    for problem in (TigerProblem(), TigerProblem(episodic=True)):
        first = [POMCP(problem, tree_queries=500, max_depth=3, gamma=0.95, ucb_c=110.0)
                 .plan([0, 1], np.random.default_rng(seed)) for seed in range(10)]
        assert first.count(LISTEN) >= 9
    p = 0.85 ** 3 / (0.85 ** 3 + 0.15 ** 3)
    belief = weighted_sampler([TIGER_LEFT, 1 - TIGER_LEFT], [p, 1 - p])
    opened = [POMCP(TigerProblem(episodic=True), tree_queries=500, max_depth=3, gamma=0.95, ucb_c=110.0)
              .plan(belief, np.random.default_rng(seed)) for seed in range(10)]
    assert opened.count(OPEN_RIGHT) >= 9
    planner = POMCP(TigerProblem(), tree_queries=500, max_depth=3, gamma=0.95, ucb_c=110.0)
    assert planner.plan([0, 1] * 50, np.random.default_rng(0)) == LISTEN
    stats = planner.root_statistics()
    assert stats.visits.sum() == 500 and stats.actions[int(np.argmax(stats.values))] == LISTEN
    particles = planner.update(LISTEN, HEAR_LEFT, [0, 1] * 50, n_particles=200, rng=0)
    assert len(particles) >= 200
    assert 0.75 < particles.count(TIGER_LEFT) / len(particles) < 0.95


# --- agents ----------------------------------------------------------------------------------------

def test_random_agent_is_reproducible_per_seed(worlds):
    world = worlds["repeated_2x2"]
    a = run_episode(world, "random", seed=3, max_steps=60)
    b = run_episode(world, "random", seed=3, max_steps=60)
    c = run_episode(world, "random", seed=4, max_steps=60)
    assert np.array_equal(a.trajectory, b.trajectory) and np.array_equal(a.collected_at, b.collected_at)
    assert not np.array_equal(a.trajectory, c.trajectory)
    assert a.trajectory.shape == (61, 2) and (a.n_hypotheses == 0).all()


@pytest.mark.parametrize("agent", ["uniform", "map", "dpomcp"])
def test_episode_on_a_tiny_world_collects_everything(tiny_world, agent):
    """All rewards collected, consistent bookkeeping: moves of one cell (or refused), collected_at
    sorted and exactly the first visits of the reward cells, observed_fraction in (0, 1], reproducible."""
    result = run_episode(tiny_world, agent, seed=0, tree_queries=50, max_depth=10, max_steps=200)
    assert result.all_collected and result.n_rewards == len(tiny_world.rewards) == 4
    trajectory = result.trajectory
    assert tuple(trajectory[0]) == tiny_world.start and len(trajectory) == result.n_steps + 1
    assert (np.abs(np.diff(trajectory, axis=0)).sum(axis=1) <= 1).all()
    assert (tiny_world.grid[trajectory[:, 0], trajectory[:, 1]] != WALL).all()
    assert np.all(np.diff(result.collected_at) > 0)
    first_visits = sorted(min(np.flatnonzero((trajectory == r).all(axis=1))) for r in tiny_world.rewards)
    assert result.collected_at.tolist() == first_visits
    assert result.steps_to_all_rewards == result.collected_at[-1] == result.n_steps
    assert 0.0 < result.observed_fraction <= 1.0
    assert len(result.n_hypotheses) == result.decisions == result.n_steps
    again = run_episode(tiny_world, agent, seed=0, tree_queries=50, max_depth=10, max_steps=200)
    assert np.array_equal(again.trajectory, trajectory)


def test_dpomcp_recomputes_hypotheses_and_runs_fast(worlds):
    """Oracle 7.9 at the agent level: on repeated_2x2 the hypotheses are recomputed when new rooms are
    seen (the hypothesis counts change during the episode), the belief snapshots are distributions;
    with a small budget the episode takes a few seconds."""
    start = time.perf_counter()
    result = run_episode(worlds["repeated_2x2"], "dpomcp", seed=0, tree_queries=60, max_depth=10,
                         max_steps=150)
    elapsed = time.perf_counter() - start
    assert result.recomputations >= 2 and len(set(result.n_hypotheses.tolist())) >= 2
    assert result.n_hypotheses.max() > 1
    steps = [b.step for b in result.beliefs]
    assert steps == sorted(steps) and steps[0] == 0
    for snapshot in result.beliefs:
        assert snapshot.weights.sum() == pytest.approx(1.0, abs=1e-9) and (snapshot.weights > 0).all()
        assert snapshot.map_index == int(np.argmax(snapshot.weights))
    assert result.decisions_per_s > 0
    assert elapsed < 15.0


def test_mpc_replanning_follows_the_tree(tiny_world):
    every = run_episode(tiny_world, "uniform", seed=1, tree_queries=50, max_depth=10, max_steps=200)
    mpc = run_episode(tiny_world, "uniform", seed=1, tree_queries=50, max_depth=10, max_steps=200,
                      replan="mpc")
    assert every.all_collected and mpc.all_collected
    assert every.searches == every.decisions and mpc.searches < mpc.decisions


def test_bad_input_is_refused_with_clear_errors(tiny_world):
    with pytest.raises(ValueError, match=r"agent must be one of \('uniform', 'map', 'dpomcp', 'random'\), "
                                         r"got 'greedy'"):
        run_episode(tiny_world, "greedy", seed=0)
    assert AGENTS == ("uniform", "map", "dpomcp", "random")
    with pytest.raises(ValueError, match="mode must be one of"):
        run_episode(tiny_world, "uniform", seed=0, mode="x-ray")
    with pytest.raises(ValueError, match="replan must be one of"):
        run_episode(tiny_world, "uniform", seed=0, replan="sometimes")
    with pytest.raises(ValueError, match="tree_queries must be an integer >= 1, got 0"):
        run_episode(tiny_world, "uniform", seed=0, tree_queries=0)
    with pytest.raises(ValueError, match="seed must be an integer"):
        run_episode(tiny_world, "uniform", seed=1.5)
    with pytest.raises(ValueError, match="world must be a MapInductionWorld"):
        run_episode(tiny_world.grid, "uniform", seed=0)
    with pytest.raises(ValueError, match="gamma must be"):
        POMCP(TigerProblem(), gamma=1.5)
    with pytest.raises(ValueError, match="weights must be"):
        NavigationModel(tiny_world.grid[None], [-1.0], (tiny_world.grid == REWARD)[None], tiny_world.grid)
