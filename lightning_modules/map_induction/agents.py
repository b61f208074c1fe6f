"""The agents of Map Induction and their episodes (docs/papers/map_induction.md sections 2.6, 2.7, 4, 5.1
and 6; oracles 7.7-7.9 at the agent level).

Agents (`AGENTS`, spec 2.7), all planning with POMCP (pomcp.py) on the navigation model
(navigation.py) except the random baseline:
- "uniform" (the reference's pomcp_simple, Uniform-POMCP): no map induction; its one particle is the
  observed map itself (weight 1), so it is driven by the rewards it has seen and the optimism bonus;
- "map" (pomcp_mle, ML/MAP-POMCP): the single hypothesis of largest posterior weight (weight 1);
- "dpomcp" (pomcp_ssp, Distributional D-POMCP): the whole posterior (hypotheses and the "observed map
  only" fallback, with their weights);
- "random": a uniformly random move among those not blocked by a wall it has seen.
The planning agents differ only in the hypotheses and weights they pass to the navigation model (the
same reward shaping, the b^4-weighted reward maps over the hypotheses they hold). Uniform-POMCP is
"only the optimism bonus" (spec 2.7) in that it predicts nothing: its one map's reward map (b = 1) leads
only to rewards it has seen. Without that term it has nothing to follow once a seen reward lies beyond
the search horizon and nothing is left unobserved (measured: repeated_2x2, seed 0, room mode,
reward_map_scale=0 for the uniform agent: the whole map seen, 1 reward left, stuck until step 500).

Episode (`run_episode`). The agent starts on `world.start` facing UP and observes in `mode`
(observation.py). Each step: if the belief is stale (cells were seen for the first time or a reward was
collected since it was made), the map/dpomcp agents update the InductionState with the observed map
and the collected rewards (hypotheses.py: proposals and hypotheses are RECOMPUTED whenever new cells
were seen, the reference's defect 5.1 fixed; the library keeps earlier consistent hypotheses), then
the posterior (posterior.py), and a fresh navigation model is built from the belief; then the agent
decides, moves (a move into a wall is refused: the agent stays, the step counts; the heading becomes
the move's direction), collects a reward on arrival and observes. The episode ends when every reward
is collected or after `max_steps` steps. Replanning (spec 2.6): "every_step" runs a fresh search at
every step; "mpc" searches again only when the belief changed, and otherwise follows the last tree
(the child for the action taken and the observation made, pomcp.POMCP.update) while that child has a
tried action, searching again from scratch when it has none.

Room tiling of the induction: a generated world (with `room_size`) uses proposals.room_tile_grid (one
room per tile, reflections of the room inside its walls); a loaded map without rooms of known size uses
the reference's default cut (proposals.tile_shapes: the longer axis in 5 parts) from (0, 0).

Randomness: everything is drawn from np.random.default_rng(seed) (one search's scalar generator is
seeded from it), so an episode is a function of (world, agent, seed, settings). Timing (`decision_s`,
`decisions_per_s`) covers the whole decision: induction, posterior, model building and search.

numpy only; no torch, no Lightning.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurobolts.datamodules.gridworld.headings import DELTAS, UP
from neurobolts.datamodules.map_induction.grid_format import REWARD, WALL
from neurobolts.datamodules.map_induction.observation import OBSERVATION_MODES, ObservedMap
from neurobolts.datamodules.map_induction.worlds import MapInductionWorld
from neurobolts.plugins.checks import check_choice, check_fraction, check_int, check_number, is_integer

from .hypotheses import InductionState
from .navigation import BELIEF_POWER, DEFAULT_OPTIMISM, REWARD_MAP_SCALE, NavigationModel
from .pomcp import POMCP
from .posterior import Belief, posterior
from .proposals import room_tile_grid, tile_shapes

AGENTS = ("uniform", "map", "dpomcp", "random")
PLANNING_AGENTS = ("uniform", "map", "dpomcp")
REPLAN_MODES = ("every_step", "mpc")
# spec 6 (CPU setup) and spec 2.6 (the reference's settings)
CPU_TREE_QUERIES, CPU_MAX_DEPTH = 200, 15
PAPER_TREE_QUERIES, PAPER_MAX_DEPTH, PAPER_MAX_STEPS = 1000, 20, 5000
DEFAULT_MAX_STEPS = 500


@dataclass(frozen=True, eq=False)
class BeliefSnapshot:
    """The belief an agent planned with after a recomputation at `step`: the weights of its
    hypotheses, the index and map of the largest weight, the fallback's index (None if absent)."""

    step: int
    weights: np.ndarray  # float (n,)
    map_index: int
    map: np.ndarray  # int8 (H, W)
    fallback_index: int | None


@dataclass(frozen=True, eq=False)
class EpisodeResult:
    """One episode (module docstring). Steps are counted from 0 (the start); `collected_at[i]` is the
    step at which the i-th reward was collected (sorted); `steps_to_all_rewards` the step of the last
    one, or `max_steps` if not all were collected; `observed_fraction` the fraction of the map's cells
    seen at that step (else at the end); `n_hypotheses[t]` the hypotheses the planner held at decision
    t (1 for uniform and map, 0 for random); `beliefs` one snapshot per posterior recomputation
    (map/dpomcp); `recomputations` how often the hypotheses were recomputed."""

    world: str
    agent: str
    seed: int
    mode: str
    trajectory: np.ndarray  # int (T + 1, 2)
    collected_at: np.ndarray  # int (k,)
    n_rewards: int
    all_collected: bool
    steps_to_all_rewards: int
    observed_fraction: float
    n_hypotheses: np.ndarray  # int (T,)
    recomputations: int
    beliefs: tuple[BeliefSnapshot, ...]
    decisions: int
    searches: int  # POMCP searches (= decisions with replan="every_step"; fewer with "mpc")
    decision_s: float
    decisions_per_s: float

    @property
    def n_steps(self) -> int:
        return len(self.trajectory) - 1


def induction_state(world: MapInductionWorld, max_proposals: int = 3, max_hypotheses: int = 81) -> InductionState:
    """A fresh InductionState for `world` with the room tiling of the module docstring (also used by
    human_fit.py to replay a trajectory with the agents' induction)."""
    if world.room_size is not None:
        tile_shape, origin, mirror_size = room_tile_grid(world.room_size)
    else:
        tile_shape, origin, mirror_size = tile_shapes(*world.shape)[0], (0, 0), None
    return InductionState(tile_shape, origin, max_proposals=max_proposals, max_hypotheses=max_hypotheses,
                          mirror_size=mirror_size)


def agent_belief(agent: str, known: np.ndarray, belief: Belief | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(maps, weights, reward_maps) the planner of planning `agent` holds (module docstring), given the
    observed map and, for "map" and "dpomcp", the posterior (None for "uniform")."""
    if agent == "uniform":
        return known[None], np.ones(1), (known == REWARD)[None]
    if agent == "map":
        i = int(np.argmax(belief.weights))
        return belief.maps[i:i + 1], np.ones(1), belief.reward_maps[i:i + 1]
    return belief.maps, belief.weights, belief.reward_maps


def _open_moves(known: np.ndarray, cell: tuple[int, int]) -> list[int]:
    H, W = known.shape
    moves = []
    for a, (dr, dc) in enumerate(DELTAS):
        r, c = cell[0] + dr, cell[1] + dc
        if 0 <= r < H and 0 <= c < W and known[r, c] != WALL:
            moves.append(a)
    return moves or list(range(len(DELTAS)))


def run_episode(world: MapInductionWorld, agent: str, seed: int, mode: str = "room",
                max_steps: int = DEFAULT_MAX_STEPS, tree_queries: int = CPU_TREE_QUERIES,
                max_depth: int = CPU_MAX_DEPTH, gamma: float = 0.9, ucb_c: float = 1.0,
                optimism: float = DEFAULT_OPTIMISM, reward_map_scale: float = REWARD_MAP_SCALE,
                replan: str = "every_step", max_proposals: int = 3, max_hypotheses: int = 81,
                belief_power: float = BELIEF_POWER) -> EpisodeResult:
    """One episode of `agent` in `world` (module docstring)."""
    if not isinstance(world, MapInductionWorld):
        raise ValueError(f"world must be a MapInductionWorld, got {type(world).__name__}")
    check_choice("agent", agent, AGENTS)
    if not is_integer(seed):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    check_choice("mode", mode, OBSERVATION_MODES)
    check_choice("replan", replan, REPLAN_MODES)
    max_steps = check_int("max_steps", max_steps, 1)
    check_number("optimism", optimism, 0)
    check_number("reward_map_scale", reward_map_scale, 0)
    check_fraction("gamma", gamma)
    tree_queries = check_int("tree_queries", tree_queries, 1)
    max_depth = check_int("max_depth", max_depth, 1)
    check_number("ucb_c", ucb_c, 0)
    rng = np.random.default_rng(seed)
    planner: POMCP | None = None  # made with the first navigation model, which each new belief replaces
    induction = induction_state(world, max_proposals, max_hypotheses) if agent in ("map", "dpomcp") else None

    observed = ObservedMap(world)
    cell, heading = tuple(world.start), UP
    collected_at: list[int] = []
    if observed.collect(cell):
        collected_at.append(0)
    observed.observe(cell, mode, heading)
    trajectory = [cell]
    n_hypotheses: list[int] = []
    beliefs: list[BeliefSnapshot] = []
    model: NavigationModel | None = None
    stale, followable = True, False
    decision_s, last_fraction, searches = 0.0, observed.observed_fraction, 0
    H, W = world.shape
    free = world.free

    for step in range(max_steps):
        if observed.all_collected:
            break
        start = time.perf_counter()
        known = observed.known
        if agent == "random":
            moves = _open_moves(known, cell)
            action = moves[int(rng.integers(len(moves)))]
            n_hypotheses.append(0)
        else:
            if stale:
                belief = None
                if induction is not None:
                    induction.update(known, observed.collected)
                    belief = posterior(known, induction.maps, observed.collected)
                    i = int(np.argmax(belief.weights))
                    beliefs.append(BeliefSnapshot(step, belief.weights.copy(), i, belief.maps[i].copy(),
                                                  belief.fallback_index))
                maps, weights, reward_maps = agent_belief(agent, known, belief)
                model = NavigationModel(maps, weights, reward_maps, known, optimism=optimism,
                                        reward_map_scale=reward_map_scale, belief_power=belief_power)
                if planner is None:
                    planner = POMCP(model, tree_queries=tree_queries, max_depth=max_depth, gamma=gamma,
                                    ucb_c=ucb_c)
                planner.model = model
            if followable and not stale:
                action = planner.best_action()
            else:
                planner.reset()
                action = planner.plan(model.belief(cell), rng)
                searches += 1
            n_hypotheses.append(len(model))
        decision_s += time.perf_counter() - start

        heading = action
        target = (cell[0] + int(DELTAS[action][0]), cell[1] + int(DELTAS[action][1]))
        if 0 <= target[0] < H and 0 <= target[1] < W and free[target]:
            cell = target
        trajectory.append(cell)
        got = observed.collect(cell)
        if got:
            collected_at.append(step + 1)
        new = observed.observe(cell, mode, heading)
        last_fraction = observed.observed_fraction  # the last step is the one collecting the last reward
        stale = bool(got or new)
        followable = False
        if replan == "mpc" and planner is not None and not stale:
            planner.update(action, 2 * (cell[0] * W + cell[1]) + int(got))
            root = planner.root
            followable = root is not None and root.actions is not None and \
                any(edge.visits > 0 for edge in root.actions.values())

    decisions = len(n_hypotheses)
    all_collected = observed.all_collected
    n_rewards = len(collected_at) + len(observed.remaining_rewards)
    return EpisodeResult(
        world=world.name, agent=agent, seed=int(seed), mode=mode,
        trajectory=np.array(trajectory, dtype=np.int64).reshape(-1, 2),
        collected_at=np.array(collected_at, dtype=np.int64), n_rewards=n_rewards, all_collected=all_collected,
        steps_to_all_rewards=collected_at[-1] if all_collected else max_steps,
        observed_fraction=float(last_fraction), n_hypotheses=np.array(n_hypotheses, dtype=np.int64),
        recomputations=induction.recomputations if induction is not None else 0, beliefs=tuple(beliefs),
        decisions=decisions, searches=searches, decision_s=decision_s,
        decisions_per_s=decisions / decision_s if decision_s > 0 else float("inf"))


def episode_settings(paper: bool = False) -> dict[str, Any]:
    """The planner settings of spec 6 (CPU: 200 tree queries, depth 15) or spec 2.6 (paper: 1000
    queries, depth 20, at most 5000 steps), as keyword arguments of run_episode."""
    if paper:
        return {"tree_queries": PAPER_TREE_QUERIES, "max_depth": PAPER_MAX_DEPTH,
                "max_steps": PAPER_MAX_STEPS, "gamma": 0.9, "ucb_c": 1.0}
    return {"tree_queries": CPU_TREE_QUERIES, "max_depth": CPU_MAX_DEPTH, "max_steps": DEFAULT_MAX_STEPS,
            "gamma": 0.9, "ucb_c": 1.0}
