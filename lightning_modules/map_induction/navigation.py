"""The navigation problem that POMCP solves in Map Induction (docs/papers/map_induction.md sections 2.6,
2.7 and 6): a generative model (pomcp.GenerativeModel) over map hypotheses, with the spec's reward
shaping.

Particles. A state is (cell, remaining, h): the agent's cell (flat index row * W + col), the rewards of
hypothesis h not yet collected in this simulation (a bitmask over `reward_cells`, the union of the
hypotheses' uncollected reward cells) and the hypothesis index h. The root belief draws h with the
weights given (`belief(cell)`); which hypotheses and weights an agent passes is its kind (agents.py,
spec 2.7): D-POMCP the whole posterior, MAP-POMCP only the MAP hypothesis (weight 1), Uniform-POMCP
only the observed map (weight 1, no induction).

Moves. The four moves of gridworld.headings (UP, RIGHT, DOWN, LEFT), one cell on the particle's map. A
cell is passable unless it is a WALL there: UNOBSERVED cells (those no hypothesis fills, and all of the
observed-map hypothesis outside what was seen) count as passable, the optimistic reading under which a
planner may plan into the unknown. A move into a wall or off the map is refused (the agent stays).
The legal actions of a node are the moves not blocked by a wall of the agent's observed map `known`
(walls every hypothesis shares), so that a node offers the same actions to every particle; moves into
a hypothesised wall stay legal and are refused by the particle's map.

Observation of a simulated step: (new cell, whether a reward was collected), as one int
2 * cell + collected. Two particles that disagree about a wall on the path (one is refused) or about a
reward (one collects) then reach different children, so a hypothesis contradicted by what the
simulated trajectory reveals stops contributing below that point of the tree (spec 2.6: "hypotheses
inconsistent with what a simulated trajectory reveals are down-weighted in the tree"). The simulated
agent sees only the cell it steps on, not the room it enters (the real agent's observation model is
applied between decisions, when the belief is recomputed).

Reward of a step that enters a cell c (spec 2.6; a refused move earns 0):
- 1 if c holds one of the particle's remaining rewards (true or hypothesised; then collected, so once);
- reward_map_scale * sum_h b_h^belief_power * 1 / (d_h(c) + 1), with b_h the weights given, d_h(c) the
  moves from c to the nearest uncollected reward of hypothesis h on h's map (UNOBSERVED passable;
  terms of unreachable rewards are 0), belief_power = 4 (spec);
- optimism * 1 / (d_o(c) + 1), d_o(c) the moves from c to the nearest UNOBSERVED cell of `known`
  (UNOBSERVED passable; 0 if nothing is unobserved): 1 on unobserved cells, decaying with the BFS
  depth from the frontier, so the bonus leads to the unexplored part of the map from anywhere.
The two shaping terms depend on the cell only, so they are summed once into one array per belief
(`shaping`). Scale: the reference does not give its reward-map scale; REWARD_MAP_SCALE = 0.05 keeps a
hypothesis's reward map (at most 0.05 per step next to a reward, summed over a depth-15 horizon at most
~0.4) below one collected reward (1), so shaping steers toward likely rewards beyond the horizon
without outweighing a reward the tree can reach. `optimism` is tuned per map in the reference
(2e-6 ... 5e-4); DEFAULT_OPTIMISM = 1e-3, as a bonus well under the reward maps of a confident belief.

Cost (spec 5.2 and 6). Building a model (once per belief, i.e. when cells are seen or a reward is
collected) runs one multi-source BFS per hypothesis (gridworld.shortest_path, scipy in C) and one for
the frontier, and builds every hypothesis's move table at once with numpy; the tables are then kept as
Python lists, which the scalar inner loops of the search read faster than numpy arrays (a rollout step
is a list lookup, one random draw and an integer bit test). `step` and `rollout` are exact equivalents
(the rollout's default policy is uniform over the moves open on the particle's map).

numpy only; no torch, no Lightning.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

from neurobolts.datamodules.gridworld.headings import DELTAS
from neurobolts.datamodules.gridworld.shortest_path import multi_source_distances
from neurobolts.datamodules.map_induction.grid_format import UNOBSERVED, WALL
from neurobolts.plugins.checks import check_int, check_number

from .pomcp import GenerativeModel, weighted_sampler
from .proposals import as_known_map

REWARD_MAP_SCALE = 0.05
DEFAULT_OPTIMISM = 1e-3
BELIEF_POWER = 4
N_MOVES = len(DELTAS)


def frontier_bonus(known: np.ndarray) -> np.ndarray:
    """float (H, W): 1 / (d_o + 1), d_o the moves to the nearest UNOBSERVED cell (UNOBSERVED passable,
    walls 0, 0 everywhere if nothing is unobserved): the obs_reward_map of spec 2.6."""
    known = as_known_map(known)
    unobserved = np.argwhere(known == UNOBSERVED)
    if unobserved.size == 0:
        return np.zeros(known.shape)
    distances = multi_source_distances(known != WALL, unobserved)
    return np.where(distances >= 0, 1.0 / (np.maximum(distances, 0) + 1.0), 0.0)


def hypothesis_reward_maps(maps: np.ndarray, reward_maps: np.ndarray) -> np.ndarray:
    """float (n, H, W): 1 / (d_h + 1), d_h the moves on map h (UNOBSERVED passable) to the nearest
    reward of reward_maps[h]; 0 where no reward can be reached."""
    out = np.zeros(maps.shape)
    for h, (grid, rewards) in enumerate(zip(maps, reward_maps, strict=True)):
        cells = np.argwhere(rewards)
        if cells.size:
            distances = multi_source_distances(grid != WALL, cells)
            out[h] = np.where(distances >= 0, 1.0 / (np.maximum(distances, 0) + 1.0), 0.0)
    return out


def move_table(passable: np.ndarray) -> np.ndarray:
    """int (n, H*W, 4): the flat cell reached from each cell by each move on each map of the bool
    (n, H, W) `passable` (the cell itself when the move is refused)."""
    n, H, W = passable.shape
    rows, cols = np.divmod(np.arange(H * W), W)
    table = np.empty((n, H * W, N_MOVES), dtype=np.int64)
    for a, (dr, dc) in enumerate(DELTAS):
        r, c = rows + dr, cols + dc
        inside = (r >= 0) & (r < H) & (c >= 0) & (c < W)
        target = np.where(inside, r * W + c, 0)
        open_ = inside[None] & passable.reshape(n, H * W)[:, target]
        table[:, :, a] = np.where(open_, target[None], np.arange(H * W)[None])
    return table


class NavigationModel(GenerativeModel):
    """The map-induction generative model over the hypotheses `maps` (module docstring).

    maps: int (n, H, W) hypothesis maps (the codes of grid_format; UNOBSERVED allowed); weights: (n,)
    their belief (> 0, normalised here); reward_maps: bool (n, H, W) their uncollected reward cells;
    known: the agent's observed map (legal moves and the frontier bonus)."""

    n_actions = N_MOVES

    def __init__(self, maps: Any, weights: Any, reward_maps: Any, known: Any, *,
                 optimism: float = DEFAULT_OPTIMISM, reward_map_scale: float = REWARD_MAP_SCALE,
                 belief_power: float = BELIEF_POWER) -> None:
        known = as_known_map(known)
        maps = np.asarray(maps)
        if maps.ndim != 3 or maps.shape[1:] != known.shape or len(maps) == 0:
            raise ValueError(f"maps must be a non-empty array (n, H, W) of maps of the observed map's shape "
                             f"{known.shape}, got shape {maps.shape}")
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (len(maps),) or not np.isfinite(weights).all() or (weights < 0).any() \
                or weights.sum() <= 0:
            raise ValueError(f"weights must be {len(maps)} finite numbers >= 0 with a positive sum, got "
                             f"{weights!r}")
        reward_maps = np.asarray(reward_maps)
        if reward_maps.shape != maps.shape or reward_maps.dtype != bool:
            raise ValueError(f"reward_maps must be a bool array of the maps' shape {maps.shape}, got "
                             f"{reward_maps.dtype} {reward_maps.shape}")
        self.optimism = check_number("optimism", optimism, 0)
        self.reward_map_scale = check_number("reward_map_scale", reward_map_scale, 0)
        self.belief_power = check_number("belief_power", belief_power, 0)
        self.shape = known.shape
        self.weights = weights / weights.sum()
        H, W = known.shape
        passable = maps != WALL

        # shaping: the belief-weighted hypothesis reward maps and the frontier bonus, one value per cell
        power = self.weights ** self.belief_power
        shaping = self.optimism * frontier_bonus(known)
        if self.reward_map_scale > 0:
            shaping = shaping + self.reward_map_scale * np.tensordot(
                power, hypothesis_reward_maps(maps, reward_maps), axes=1)
        self.shaping_map = shaping
        self._shaping: list[float] = shaping.ravel().tolist()

        # rewards: one bit per cell rewarded in some hypothesis; each hypothesis starts with its own bits
        self.reward_cells = np.flatnonzero(reward_maps.any(axis=0).ravel())
        bit_of = np.full(H * W, -1, dtype=np.int64)
        bit_of[self.reward_cells] = np.arange(self.reward_cells.size)
        self._bit_of: list[int] = bit_of.tolist()
        flat_rewards = reward_maps.reshape(len(maps), H * W)
        self._initial_mask: list[int] = [sum(1 << int(bit_of[c]) for c in np.flatnonzero(row))
                                         for row in flat_rewards]

        # moves: per hypothesis, the cell reached by each move (`_next`), and the same with the open
        # moves first (`_open`, stable order) and their number (`_n_open`, >= 1: a closed cell stays)
        table = move_table(passable)
        cells = np.arange(H * W)
        moved = table != cells[:, None]
        open_first = np.take_along_axis(table, np.argsort(~moved, axis=2, kind="stable"), axis=2)
        self._next: list[list[int]] = table.reshape(len(maps), -1).tolist()
        self._open: list[list[int]] = open_first.reshape(len(maps), -1).tolist()
        self._n_open: list[list[int]] = np.maximum(moved.sum(axis=2), 1).tolist()
        legal = move_table((known != WALL)[None])[0] != cells[:, None]
        self._legal: list[tuple[int, ...]] = [tuple(np.flatnonzero(m).tolist()) or tuple(range(N_MOVES))
                                              for m in legal]

    def __len__(self) -> int:
        return len(self.weights)

    def cell_index(self, cell: Any) -> int:
        """The flat index of cell (row, col)."""
        H, W = self.shape
        r, c = check_int("row", cell[0], 0, H - 1), check_int("col", cell[1], 0, W - 1)
        return r * W + c

    def cell_of(self, index: int) -> tuple[int, int]:
        """The cell (row, col) of a flat index."""
        return divmod(int(index), self.shape[1])

    def initial_state(self, cell: Any, h: int) -> tuple[int, int, int]:
        """The particle of hypothesis h with the agent on `cell` and all of h's rewards remaining."""
        h = check_int("h", h, 0, len(self) - 1)
        return self.cell_index(cell), self._initial_mask[h], h

    def belief(self, cell: Any) -> Callable[[random.Random], tuple[int, int, int]]:
        """The root belief: a sampler drawing hypothesis h with its weight (agent on `cell`)."""
        states = [self.initial_state(cell, h) for h in range(len(self))]
        return weighted_sampler(states, self.weights.tolist())

    # --- the generative model -------------------------------------------------------------------

    def legal_actions(self, state: tuple[int, int, int]) -> tuple[int, ...]:
        return self._legal[state[0]]

    def step(self, state: tuple[int, int, int], action: int, rng: random.Random
             ) -> tuple[tuple[int, int, int], int, float, bool]:
        cell, remaining, h = state
        target = self._next[h][cell * N_MOVES + action]
        if target == cell:
            return state, 2 * cell, 0.0, False
        reward = self._shaping[target]
        bit = self._bit_of[target]
        collected = 0
        if bit >= 0 and remaining >> bit & 1:
            remaining ^= 1 << bit
            reward += 1.0
            collected = 1
        return (target, remaining, h), 2 * target + collected, reward, False

    def rollout_policy(self, state: tuple[int, int, int], rng: random.Random) -> int:
        cell, _, h = state
        table = self._next[h]
        open_actions = [a for a in range(N_MOVES) if table[cell * N_MOVES + a] != cell]
        open_actions = open_actions or list(range(N_MOVES))
        return open_actions[int(rng.random() * len(open_actions))]

    def rollout(self, state: tuple[int, int, int], steps: int, gamma: float, rng: random.Random) -> float:
        cell, remaining, h = state
        open_cells, n_open, draw = self._open[h], self._n_open[h], rng.random
        shaping, bit_of = self._shaping, self._bit_of
        total, discount = 0.0, 1.0
        for _ in range(steps):
            target = open_cells[cell * N_MOVES + int(draw() * n_open[cell])]
            if target != cell:
                reward = shaping[target]
                bit = bit_of[target]
                if bit >= 0 and remaining >> bit & 1:
                    remaining ^= 1 << bit
                    reward += 1.0
                total += discount * reward
                cell = target
            discount *= gamma
        return total
