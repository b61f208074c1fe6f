"""The human-fit analysis of Map Induction (docs/papers/map_induction.md section 4): how likely a
(human) cell path is under each planning agent, from the agent's predictions at the path's room
transitions.

Replay (`transition_log_likelihood(world, cells, agent, mode, ...)`). The path (a connected cell
path, datamodules/map_induction/behaviour.py: `read_behaviour_csv` + `connect_path` for a human CSV)
is walked step by step with the agents' own bookkeeping (agents.py, run_episode): the agent's knowledge
is an ObservedMap that collects the reward on each cell the path steps on and observes in `mode`
from it (heading = the direction of the last move, UP at the start); whenever cells were seen for
the first time or a reward was collected, the map / dpomcp agents update their InductionState
(proposals and hypotheses recomputed on new observations, spec 5.1) with the observed map and the
collected rewards. At each room transition (behaviour.room_transitions: the path enters room `to`,
the last room it was in being `from`) the agent's belief at the decision step (below) is made as in
run_episode (posterior.posterior, agents.agent_belief, a NavigationModel with the agent's shaping),
POMCP searches from the path's cell at that step, and the simulated paths are sorted by the first
room other than `from` they enter (room_visits.py). The model's probability of the room entered:

    p(to) = (n_to + epsilon) / (N + epsilon * K)

n_r the simulated paths whose first new room is r, N their sum over rooms, K the number of candidate
rooms (every room of the world but `from`), epsilon > 0 the additive (Lidstone) smoothing that keeps a
room no path entered at a finite log-probability (epsilon = 1: Laplace; with no path entering any
room, p = 1 / K). The probabilities of the K candidates sum to 1. The fit of the path is the sum of
log p(to) over its transitions (0 for a path without transitions).

Decision step (`decision_point`): the spec says "at each room-to-room transition"; where on the way
the model is asked is a choice:
- "departure" (default): the last step in `from` before the transition, the moment the path leaves
  the room;
- "last_update": the last step of the stay in `from` at which the agent's knowledge changed (a reward
  collected or new cells seen there; the entry if none), i.e. after the room was dealt with;
- "entry": the step at which the path entered `from` (its first step in a room for the first
  transition).
Counts (`count`): "paths" (default) counts whole simulated paths, tree part and rollout
(room_visits.FirstRoomRecorder; the search is the same as on the bare model); "tree" counts only the
tree's nodes (room_visits.first_room_visits), the spec's literal "tree visit counts".

Measured (CPU settings: 200 queries, depth 15, epsilon 1). Paths entering a new room per transition,
D-POMCP replaying a Uniform-POMCP episode of repeated_2x2 (seed 0, 3 transitions), paths (tree):
"departure" 173, 127, 111 (167, 109, 95), p(to) 0.97-0.99; "last_update" 20, 0, 0 (3, 0, 0);
"entry" 8, 13, 24 (0, 0, 10); "entry" with 1000 queries and depth 20 (a D-POMCP episode of control_2x2,
4 transitions): 54, 43, 68, 27. The random
rollouts rarely find a one-cell door within 15 steps, so away from the door most transitions get
p(to) near 1 / K. From "departure" nearly every path enters the room behind the nearest door, so
p(to) ~ (N + epsilon) / (N + K epsilon) for every agent, and the ranking of agents follows N (how
many of their paths leave the room): on the 4 CPU worlds x 3 generating agents x 4 seeds (48 paths),
Uniform scored lowest on every path (MAP or D-POMCP highest), the Uniform agent's own paths and the
control world's included. No setting measured here recovers the agent that generated a path; with human data, read
the comparison with this in mind (and check the counts, `TransitionFit.visits`).

Randomness: one np.random.default_rng(seed) per replay; each search draws its generator from it, so a
fit is a function of (world, path, agent, seed, settings). `compare_models` fits every agent with the
same seed and settings.

numpy only; no torch, no Lightning.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurobolts.datamodules.gridworld.headings import UP, direction
from neurobolts.datamodules.map_induction.behaviour import check_cell_path, room_transitions
from neurobolts.datamodules.map_induction.observation import OBSERVATION_MODES, ObservedMap
from neurobolts.datamodules.map_induction.worlds import MapInductionWorld
from neurobolts.plugins.checks import check_choice, check_fraction, check_int, check_number, is_integer

from .agents import CPU_MAX_DEPTH, CPU_TREE_QUERIES, PLANNING_AGENTS, agent_belief, induction_state
from .navigation import BELIEF_POWER, DEFAULT_OPTIMISM, REWARD_MAP_SCALE, NavigationModel
from .pomcp import POMCP
from .posterior import posterior
from .room_visits import FirstRoomRecorder, first_room_visits

DECISION_POINTS = ("departure", "last_update", "entry")
COUNTS = ("paths", "tree")
DEFAULT_EPSILON = 1.0

Cell = tuple[int, int]


@dataclass(frozen=True)
class TransitionFit:
    """The model's prediction at one room transition: the path enters `to_room` at `step` (on `cell`)
    from `from_room`; the model was asked at `decision_step` (on `decision_cell`); `visits` {room:
    simulated paths whose first new room it was}; `probabilities` the smoothed probability of every
    candidate room (sum 1); `probability` and `log_probability` those of `to_room`."""

    step: int
    from_room: int
    to_room: int
    cell: Cell
    decision_step: int
    decision_cell: Cell
    visits: dict[int, int]
    probabilities: dict[int, float]
    probability: float
    log_probability: float


@dataclass(frozen=True)
class HumanFit:
    """The fit of one path under one agent: its transitions and `log_likelihood`, their sum."""

    world: str
    agent: str
    mode: str
    seed: int
    decision_point: str
    count: str
    n_steps: int
    transitions: tuple[TransitionFit, ...]
    log_likelihood: float
    seconds: float


def decision_steps(world: MapInductionWorld, cells: list[Cell], decision_point: str = "departure",
                   mode: str = "room") -> list[int]:
    """The decision step of each room transition of the path `cells` (module docstring); `mode` is
    the observation mode ("last_update" reads when the knowledge changed)."""
    check_choice("decision_point", decision_point, DECISION_POINTS)
    cells = check_cell_path(world, cells)
    rooms = [int(world.rooms[cell]) for cell in cells]
    transitions = room_transitions(world, cells)
    changed = _knowledge_changes(world, cells, mode) if decision_point == "last_update" else None
    first = next((s for s, room in enumerate(rooms) if room >= 0), 0)
    steps = []
    for k, transition in enumerate(transitions):
        entry = first if k == 0 else transitions[k - 1].step
        stay = [s for s in range(entry, transition.step) if rooms[s] == transition.from_room]
        if decision_point == "entry":
            steps.append(entry)
        elif decision_point == "departure":
            steps.append(stay[-1])
        else:
            updated = [s for s in stay if changed[s]]
            steps.append(updated[-1] if updated else entry)
    return steps


def _knowledge_changes(world: MapInductionWorld, cells: list[Cell], mode: str) -> list[bool]:
    observed = ObservedMap(world)
    heading, changed = UP, []
    for step, cell in enumerate(cells):
        if step and cell != cells[step - 1]:
            heading = direction(cells[step - 1], cell)
        got = observed.collect(cell)
        changed.append(bool(observed.observe(cell, mode, heading)) or got)
    return changed


def transition_log_likelihood(world: MapInductionWorld, cells: Any, agent: str, mode: str = "room", *,
                              seed: int = 0, tree_queries: int = CPU_TREE_QUERIES, max_depth: int = CPU_MAX_DEPTH,
                              gamma: float = 0.9, ucb_c: float = 1.0, optimism: float = DEFAULT_OPTIMISM,
                              reward_map_scale: float = REWARD_MAP_SCALE, belief_power: float = BELIEF_POWER,
                              max_proposals: int = 3, max_hypotheses: int = 81, epsilon: float = DEFAULT_EPSILON,
                              decision_point: str = "departure", count: str = "paths") -> HumanFit:
    """The fit of the connected cell path `cells` under planning `agent` (module docstring)."""
    if not isinstance(world, MapInductionWorld):
        raise ValueError(f"world must be a MapInductionWorld, got {type(world).__name__}")
    check_choice("agent", agent, PLANNING_AGENTS)
    check_choice("mode", mode, OBSERVATION_MODES)
    check_choice("decision_point", decision_point, DECISION_POINTS)
    check_choice("count", count, COUNTS)
    if not is_integer(seed):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    tree_queries = check_int("tree_queries", tree_queries, 1)
    max_depth = check_int("max_depth", max_depth, 1)
    check_fraction("gamma", gamma)
    check_number("ucb_c", ucb_c, 0)
    check_number("optimism", optimism, 0)
    check_number("reward_map_scale", reward_map_scale, 0)
    check_number("belief_power", belief_power, 0)
    epsilon = check_number("epsilon", epsilon, 0, low_open=True)
    start_time = time.perf_counter()
    path = check_cell_path(world, cells, connected=True)

    transitions = room_transitions(world, path)
    asked = dict(zip(decision_steps(world, path, decision_point, mode), transitions, strict=True))
    n_rooms = int(world.rooms.max()) + 1
    rng = np.random.default_rng(seed)
    induction = induction_state(world, max_proposals, max_hypotheses) if agent in ("map", "dpomcp") else None
    observed = ObservedMap(world)
    heading, stale = UP, True
    fits: list[TransitionFit] = []
    for step, cell in enumerate(path):
        if step and cell != path[step - 1]:
            heading = direction(path[step - 1], cell)
        got = observed.collect(cell)
        stale = bool(observed.observe(cell, mode, heading)) or got or stale
        if stale and induction is not None:
            induction.update(observed.known, observed.collected)
        stale = False
        transition = asked.get(step)
        if transition is None:
            continue
        known = observed.known
        belief = posterior(known, induction.maps, observed.collected) if induction is not None else None
        maps, weights, reward_maps = agent_belief(agent, known, belief)
        model = NavigationModel(maps, weights, reward_maps, known, optimism=optimism,
                                reward_map_scale=reward_map_scale, belief_power=belief_power)
        recorder = FirstRoomRecorder(model, world.rooms, transition.from_room)
        planner = POMCP(recorder, tree_queries=tree_queries, max_depth=max_depth, gamma=gamma, ucb_c=ucb_c)
        planner.plan(recorder.belief(model.belief(cell)), rng)
        visits = recorder.counts if count == "paths" else first_room_visits(planner, world.rooms,
                                                                             transition.from_room)
        candidates = [room for room in range(n_rooms) if room != transition.from_room]
        total = sum(visits.values()) + epsilon * len(candidates)
        probabilities = {room: (visits.get(room, 0) + epsilon) / total for room in candidates}
        p = probabilities[transition.to_room]
        fits.append(TransitionFit(step=transition.step, from_room=transition.from_room, to_room=transition.to_room,
                                  cell=transition.cell, decision_step=step, decision_cell=cell, visits=visits,
                                  probabilities=probabilities, probability=p, log_probability=math.log(p)))
    fits.sort(key=lambda fit: fit.step)
    return HumanFit(world=world.name, agent=agent, mode=mode, seed=int(seed), decision_point=decision_point,
                    count=count, n_steps=len(path) - 1, transitions=tuple(fits),
                    log_likelihood=float(sum(fit.log_probability for fit in fits)),
                    seconds=time.perf_counter() - start_time)


def compare_models(world: MapInductionWorld, cells: Any, agents: Any = PLANNING_AGENTS, **settings: Any
                   ) -> dict[str, float]:
    """{agent: log-likelihood of the path} for each of `agents` (planning agents, no repeats), all
    fitted with the same seed and `settings` (the keyword arguments of transition_log_likelihood)."""
    if isinstance(agents, str):
        agents = (agents,)
    agents = tuple(agents)
    if not agents:
        raise ValueError(f"agents must name at least one of {PLANNING_AGENTS}, got none")
    for agent in agents:
        check_choice("agents", agent, PLANNING_AGENTS)
    if len(set(agents)) != len(agents):
        raise ValueError(f"agents must not repeat an agent, got {agents!r}")
    return {agent: transition_log_likelihood(world, cells, agent, **settings).log_likelihood for agent in agents}
