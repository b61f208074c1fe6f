"""POMCP, Partially Observable Monte-Carlo Planning (Silver & Veness, NeurIPS 2010), the planner of Map
Induction (docs/papers/map_induction.md section 2.6; oracle 7.7), written for any problem given as a
generative model, and the Tiger POMDP on which it is compared with an outside implementation
(benchmarks/map_induction.py, spec section 8: `pomdp-py`).

Generative model (`GenerativeModel`). A problem is what POMCP may ask of a simulator:
- `n_actions`: actions are the integers 0 .. n_actions - 1;
- `step(state, action, rng) -> (next_state, observation, reward, done)`: one simulated step; states
  and observations are any hashable values (observations key the tree's children), `done` ends the
  simulation after this step (no value is backed up from beyond it);
- `legal_actions(state)`: the actions a history node offers (default: all); asked once, with the state
  of the simulation that first reaches the node, so it must not depend on the hidden part of the state;
- `rollout_policy(state, rng) -> action`: the default policy of the rollouts (default: uniform over the
  legal actions);
- `rollout(state, steps, gamma, rng) -> float`: the discounted return of `steps` steps of the default
  policy (default: a loop over `rollout_policy` and `step`; a model may replace it by a faster
  equivalent, as navigation.py does).
`rng` is a `random.Random` inside the search (scalar draws cost ~50 ns there against ~1 us for a numpy
Generator); `POMCP.plan` derives it from the numpy Generator or seed it is given, so one seed fixes
the whole search.

Search (`POMCP.plan(belief, rng)`, Silver & Veness 2010, Algorithm 1). The tree alternates history
nodes (visit count N(h), one child per legal action) and action nodes (N(ha), the mean discounted return
V(ha), one child history node per observation seen). Each of `tree_queries` simulations draws a state
from the belief (particles: a sequence, drawn uniformly; or a callable `belief(rng) -> state`) and
descends: at a history node the action maximising V(ha) + ucb_c sqrt(log N(h) / N(ha)) (untried
actions first, in their order), a simulated step, then the child for the observation, created on
first sight; the first time a history node is reached it is expanded and its value estimated by a
rollout instead. Simulations stop after `max_depth` steps in all (tree plus rollout); returns are
discounted by `gamma` per step and backed up along the path. The root is expanded before the first
simulation, so every simulation updates a root action. The decision is the root action of largest
V(ha) (ties: more visits, then the first). History nodes below the root keep the states that reached
them (their particles), so that `update(action, observation)` can continue from the matching child as
the next root with its particles as the new belief (tree reuse, Silver & Veness section 3); `reset()`
starts afresh. `root_statistics()` gives the visit counts and values of the root actions (spec 4: the
human-fit analysis reads visit counts).

Tiger (`TigerProblem`, Kaelbling, Littman & Cassandra 1998). States TIGER_LEFT / TIGER_RIGHT, actions
LISTEN / OPEN_LEFT / OPEN_RIGHT, observations HEAR_LEFT / HEAR_RIGHT. Listening costs 1 and hears the
tiger's side with probability 0.85; opening the treasure door gives +10, the tiger's door -100; opening
a door resets the problem (the tiger is placed again uniformly at random) and its observation is
uninformative (uniform). The problem never ends (done is always False), as in `pomdp-py`'s Tiger;
with `episodic=True` opening a door ends it instead (done, no reset): the variant in which a
depth-limited search with random rollouts values opening by the door's reward alone (in the resetting
problem the random rollouts after the reset, about -30 per step, make a search of depth > 1 put off
opening until its horizon, in our POMCP as in pomdp-py's).

Pure Python and numpy; no torch, no Lightning.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import numpy as np

from neurobolts.plugins.checks import check_fraction, check_int, check_number, is_integer

State = Hashable
Observation = Hashable


class GenerativeModel:
    """The generative-model protocol of POMCP (module docstring). Subclasses set `n_actions` and
    implement `step`; the other methods have defaults."""

    n_actions: int

    def step(self, state: Any, action: int, rng: random.Random) -> tuple[Any, Observation, float, bool]:
        raise NotImplementedError(f"{type(self).__name__} must implement step(state, action, rng)")

    def legal_actions(self, state: Any) -> Sequence[int]:
        return range(self.n_actions)

    def rollout_policy(self, state: Any, rng: random.Random) -> int:
        actions = self.legal_actions(state)
        return actions[int(rng.random() * len(actions))]

    def rollout(self, state: Any, steps: int, gamma: float, rng: random.Random) -> float:
        total, discount = 0.0, 1.0
        for _ in range(steps):
            state, _, reward, done = self.step(state, self.rollout_policy(state, rng), rng)
            total += discount * reward
            if done:
                break
            discount *= gamma
        return total


class HistoryNode:
    """A node h of the search tree: N(h), the action children (None until expanded), the particles."""

    __slots__ = ("visits", "actions", "particles")

    def __init__(self) -> None:
        self.visits = 0
        self.actions: dict[int, ActionNode] | None = None
        self.particles: list[Any] = []


class ActionNode:
    """A node ha of the search tree: N(ha), V(ha) and the history children by observation."""

    __slots__ = ("visits", "value", "children")

    def __init__(self) -> None:
        self.visits = 0
        self.value = 0.0
        self.children: dict[Observation, HistoryNode] = {}


@dataclass(frozen=True)
class RootStatistics:
    """The root actions of the last search: their visit counts N(ha) and values V(ha)."""

    actions: tuple[int, ...]
    visits: np.ndarray  # int (n,)
    values: np.ndarray  # float (n,)


def scalar_rng(rng: Any) -> random.Random:
    """A `random.Random` for the search: itself, seeded from a numpy Generator (one draw), or from an
    integer seed."""
    if isinstance(rng, random.Random):
        return rng
    if isinstance(rng, np.random.Generator):
        return random.Random(int(rng.integers(2**63)))
    if is_integer(rng):
        return random.Random(int(rng))
    raise ValueError(f"rng must be a numpy Generator, a random.Random or an integer seed, got {rng!r}")


class POMCP:
    """UCB1 tree search over action / observation histories with particle beliefs (module docstring)."""

    def __init__(self, model: GenerativeModel, tree_queries: int = 1000, max_depth: int = 20,
                 gamma: float = 0.9, ucb_c: float = 1.0, keep_particles: bool = True) -> None:
        if not callable(getattr(model, "step", None)) or not is_integer(getattr(model, "n_actions", None)):
            raise ValueError(f"model must be a generative model with n_actions and step(state, action, rng), "
                             f"got {type(model).__name__}")
        self.model = model
        self.tree_queries = check_int("tree_queries", tree_queries, 1)
        self.max_depth = check_int("max_depth", max_depth, 1)
        self.gamma = check_fraction("gamma", gamma)
        self.ucb_c = check_number("ucb_c", ucb_c, 0)
        if not isinstance(keep_particles, bool):
            raise ValueError(f"keep_particles must be a bool, got {keep_particles!r}")
        self.keep_particles = keep_particles
        self.root: HistoryNode | None = None
        self._rng = random.Random(0)

    # --- the search -----------------------------------------------------------------------------

    def plan(self, belief: Sequence[Any] | Callable[[random.Random], Any], rng: Any) -> int:
        """The action of largest value after `tree_queries` simulations from `belief` (particles or a
        sampler), continuing the current tree if `update` moved to a child, else a fresh one."""
        self._rng = scalar_rng(rng)
        sample = self._sampler(belief)
        if self.root is None:
            self.root = HistoryNode()
        root = self.root
        if root.actions is None:
            root.actions = {int(a): ActionNode() for a in self.model.legal_actions(sample(self._rng))}
            if not root.actions:
                raise ValueError("the model offers no legal action at the root")
        for _ in range(self.tree_queries):
            self._simulate(sample(self._rng), root, 0)
        return self.best_action()

    def _sampler(self, belief: Any) -> Callable[[random.Random], Any]:
        if callable(belief):
            return belief
        particles = list(belief)
        if not particles:
            raise ValueError("belief must be a non-empty sequence of particles or a callable rng -> state, "
                             "got no particles")
        return lambda rng: particles[int(rng.random() * len(particles))]

    def _simulate(self, state: Any, node: HistoryNode, depth: int) -> float:
        if depth >= self.max_depth:
            return 0.0
        if node.actions is None:  # first visit: expand, estimate by a rollout
            node.actions = {int(a): ActionNode() for a in self.model.legal_actions(state)}
            return self.model.rollout(state, self.max_depth - depth, self.gamma, self._rng)
        action = self._ucb_action(node)
        next_state, observation, reward, done = self.model.step(state, action, self._rng)
        edge = node.actions[action]
        total = reward
        if not done:
            child = edge.children.get(observation)
            if child is None:
                child = edge.children[observation] = HistoryNode()
            if self.keep_particles:
                child.particles.append(next_state)
            total += self.gamma * self._simulate(next_state, child, depth + 1)
        node.visits += 1
        edge.visits += 1
        edge.value += (total - edge.value) / edge.visits
        return total

    def _ucb_action(self, node: HistoryNode) -> int:
        log_visits = math.log(node.visits) if node.visits > 1 else 0.0
        best, best_score = -1, -math.inf
        for action, edge in node.actions.items():
            if edge.visits == 0:
                return action
            score = edge.value + self.ucb_c * math.sqrt(log_visits / edge.visits)
            if score > best_score:
                best, best_score = action, score
        return best

    # --- results and tree reuse -----------------------------------------------------------------

    def best_action(self) -> int:
        """The root action of largest value (ties: more visits, then the first); untried actions only
        if no action was tried."""
        if self.root is None or not self.root.actions:
            raise ValueError("best_action needs a search first: call plan(belief, rng)")
        items = list(self.root.actions.items())
        tried = [(a, e) for a, e in items if e.visits > 0] or items
        return max(tried, key=lambda item: (item[1].value, item[1].visits))[0]

    def root_statistics(self) -> RootStatistics:
        """Visit counts and values of the root actions of the current tree."""
        if self.root is None or not self.root.actions:
            raise ValueError("root_statistics needs a search first: call plan(belief, rng)")
        actions = tuple(self.root.actions)
        edges = [self.root.actions[a] for a in actions]
        return RootStatistics(actions, np.array([e.visits for e in edges], dtype=np.int64),
                              np.array([e.value for e in edges], dtype=np.float64))

    def update(self, action: int, observation: Observation, particles: Sequence[Any] = (),
               n_particles: int = 0, rng: Any = None, max_tries: int | None = None) -> list[Any]:
        """Move the root to the child of (action, observation) (kept for the next `plan`; None if the
        search never reached it) and return the new particle belief: the particles of that child,
        topped up to `n_particles` by rejection sampling (draw a state of the previous belief
        `particles`, simulate `action`, keep the next state if the simulated observation equals the
        real one; at most `max_tries` draws, default 100 * n_particles)."""
        if self.root is None or not self.root.actions or action not in self.root.actions:
            raise ValueError(f"action must be a root action of the last search, got {action!r}")
        child = self.root.actions[action].children.get(observation)
        self.root = child
        new = list(child.particles) if child is not None else []
        n_particles = check_int("n_particles", n_particles, 0)
        if len(new) < n_particles and particles:
            generator = scalar_rng(0 if rng is None else rng)
            previous = list(particles)
            tries = 100 * n_particles if max_tries is None else check_int("max_tries", max_tries, 1)
            for _ in range(tries):
                if len(new) >= n_particles:
                    break
                state = previous[int(generator.random() * len(previous))]
                next_state, simulated, _, _ = self.model.step(state, action, generator)
                if simulated == observation:
                    new.append(next_state)
        return new

    def reset(self) -> None:
        """Forget the tree: the next `plan` starts from a fresh root."""
        self.root = None


# --- the Tiger problem --------------------------------------------------------------------------

TIGER_LEFT, TIGER_RIGHT = 0, 1
LISTEN, OPEN_LEFT, OPEN_RIGHT = 0, 1, 2
HEAR_LEFT, HEAR_RIGHT = 0, 1
TIGER_ACTION_NAMES = ("listen", "open-left", "open-right")


class TigerProblem(GenerativeModel):
    """The Tiger POMDP (module docstring) with its standard parameters."""

    n_actions = 3

    def __init__(self, listen_reward: float = -1.0, treasure_reward: float = 10.0,
                 tiger_reward: float = -100.0, listen_accuracy: float = 0.85, episodic: bool = False) -> None:
        if not isinstance(episodic, bool):
            raise ValueError(f"episodic must be a bool, got {episodic!r}")
        self.episodic = episodic
        self.listen_reward = check_number("listen_reward", listen_reward)
        self.treasure_reward = check_number("treasure_reward", treasure_reward)
        self.tiger_reward = check_number("tiger_reward", tiger_reward)
        self.listen_accuracy = check_fraction("listen_accuracy", listen_accuracy)

    def step(self, state: int, action: int, rng: random.Random) -> tuple[int, int, float, bool]:
        if action == LISTEN:
            heard = state if rng.random() < self.listen_accuracy else 1 - state
            return state, heard, self.listen_reward, False
        if action not in (OPEN_LEFT, OPEN_RIGHT):
            raise ValueError(f"action must be one of {LISTEN} (listen), {OPEN_LEFT} (open-left), "
                             f"{OPEN_RIGHT} (open-right), got {action!r}")
        opened_tiger = (action == OPEN_LEFT) == (state == TIGER_LEFT)
        reward = self.tiger_reward if opened_tiger else self.treasure_reward
        if self.episodic:
            return state, int(rng.random() < 0.5), reward, True
        return int(rng.random() < 0.5), int(rng.random() < 0.5), reward, False

    def posterior_left(self, prior_left: float, action: int, observation: int) -> float:
        """The exact belief that the tiger is left after (action, observation) from `prior_left`."""
        if action != LISTEN:
            return 0.5
        p = self.listen_accuracy
        left = prior_left * (p if observation == HEAR_LEFT else 1 - p)
        right = (1 - prior_left) * (p if observation == HEAR_RIGHT else 1 - p)
        return left / (left + right)


def weighted_sampler(states: Sequence[Any], weights: Sequence[float]) -> Callable[[random.Random], Any]:
    """A belief sampler `rng -> state` drawing `states` with probabilities proportional to `weights`."""
    if len(states) != len(weights) or not states:
        raise ValueError(f"states and weights must be non-empty and of one length, got {len(states)} and "
                         f"{len(weights)}")
    cumulative = list(accumulate(float(w) for w in weights))
    if not all(w >= 0 for w in weights) or cumulative[-1] <= 0:
        raise ValueError(f"weights must be >= 0 with a positive sum, got {list(weights)!r}")
    total, last = cumulative[-1], len(states) - 1
    return lambda rng: states[min(bisect.bisect_right(cumulative, rng.random() * total), last)]
