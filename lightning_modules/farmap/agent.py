"""The FARMap agent and the Frontier baseline in the grid world, one code path (docs/papers/farmap.md
sections 2.2-2.6 and 4; oracles 7.6, 7.9, 7.10).

Each step: take the next move of the current plan (a new plan when none is left); if the new pose lies
on a border of the active map, recall the map across it; observe the cells in view
(`world.visible_cells`) and update the active map (update-first); FARMap then feeds the surprisal
1 - confidence to a `SurprisalFragmenter` (z > rho over >= 26 scores since the last fragmentation),
except on a recall step or while travelling to an LTM subgoal. On a fragmentation the active map goes
to the LTM graph and a new, empty map starts with the current observation. Plans run in full (one
primitive move per step); the plan in progress survives a fragmentation or a recall.

Subgoals (subgoals.py): FARMap consults the LTM when the active map's q < 0.05 (far candidates; if
another map wins, it plans to the nearest fracture point leading there, arriving with the border's
crossing heading so that the pose-based recall switches maps on arrival; if the plan had to arrive
with another heading the map is switched explicitly on arrival), otherwise it samples a near
candidate (p ~ size / distance, head-direction bias). With no reachable near candidate left, it
consults the LTM in forced mode (current map excluded). Frontier is the same loop with one map that
never fragments, p ~ 1 / distance, no size weighting, no head bias and no LTM.

Choices the spec leaves open and deviations from the reference (docs/papers/farmap.md 2.6):
- Plans are shortest paths (gridworld `plan_path`) over the active map's known-free cells, cropped to
  the map's bounding box; the goal heading is tried first, then the other three in clockwise order,
  then the candidate is dropped and another is sampled.
- A near subgoal whose frontier cell is still unknown when the agent arrives (never visible from
  there) is ignored by that map afterwards, so that exploration ends instead of returning forever to
  a frontier it cannot see. If a recall switched maps on the way, the cells of the target cluster
  that the map now active knows are ignored by the map that chose it: they lie in the other
  fragment, and without this the two maps send the agent back and forth across their border. q keeps
  counting ignored cells.
- Near candidates come only from the frontier next to known-free cells the agent can reach (a cell
  seen past a wall corner can be known-free and cut off by unknown cells).
- A map with no reachable near candidate is "exhausted" until it is updated again; forced LTM choices
  skip exhausted maps, and when no directly connected map has a positive score the agent heads for the
  first map on the way (fewest hops, then fracture distance) to the nearest map that is not
  exhausted and has q > 0.
- When nothing else is left, the agent moves blindly into an unknown 4-neighbour of its cell (the
  reference turns back when it has nothing to plan on); exploration ends when no such move is left
  either.
- The initial observation (step 0) updates the first map but gives no fragmentation score.

numpy + scipy; no torch, no Lightning.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from neurobolts.datamodules.gridworld import DELTAS, plan_path
from neurobolts.lightning_modules.common.fragmentation import SurprisalFragmenter
from neurobolts.plugins.checks import check_choice, check_int, check_number, check_positive

from .local_map import LocalMap
from .ltm import LTMGraph
from .subgoals import choose_far, far_scores, near_candidates, near_probabilities

AGENTS = ("farmap", "frontier")
_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass
class EpisodeResult:
    """Per-step records of one episode (index t = after t moves; t = 0 is the initial observation)
    and its events, each logged with the step during which it happens (a subgoal is chosen at the
    start of a step, before its move). After exploration ends (`terminated_at` = moves made) every
    per-step value is carried forward (confidence: nan)."""

    agent: str
    seed: int
    num_steps: int
    visible_area: int
    world_size: int  # H x W of the world grid (the denominator of memory_ratio)
    seen: np.ndarray  # (T + 1,) cells ever observed
    seen_ratio: np.ndarray  # (T + 1,) seen / visible area
    memory: np.ndarray  # (T + 1,) H x W of the known-cell bounding box of the active map
    memory_ratio: np.ndarray  # (T + 1,) memory / world_size
    map_id: np.ndarray  # (T + 1,) the active map
    poses: np.ndarray  # (T + 1, 3) (row, col, heading)
    confidence: np.ndarray  # (T + 1,) update-first confidence of each observation
    fragmentations: list[int] = field(default_factory=list)  # steps of fragmentations
    recalls: list[int] = field(default_factory=list)  # steps where a stored map became active
    ltm_subgoals: list[int] = field(default_factory=list)  # steps where an LTM subgoal was chosen
    terminated_at: int | None = None  # step at which no candidate was left anywhere
    wall_time: float = 0.0  # seconds spent in the loop
    steps_per_s: float = 0.0  # moves taken / wall_time
    ltm: LTMGraph | None = None

    def steps_to(self, fraction: float) -> int | None:
        """First step at which seen_ratio >= fraction, None if never."""
        hit = np.flatnonzero(self.seen_ratio >= fraction)
        return int(hit[0]) if hit.size else None

    def coverage_auc(self) -> float:
        """Mean seen_ratio over steps 1..T (area under the coverage curve, normalised to [0, 1])."""
        return float(self.seen_ratio[1:].mean())

    def summary(self) -> dict[str, float | int | None]:
        return {"agent": self.agent, "seed": self.seed, "steps": self.num_steps,
                "final_seen_ratio": float(self.seen_ratio[-1]), "coverage_auc": self.coverage_auc(),
                "steps_to_90": self.steps_to(0.9), "memory_mean": float(self.memory[1:].mean()),
                "memory_max": int(self.memory.max()), "fragmentations": len(self.fragmentations),
                "recalls": len(self.recalls), "ltm_subgoals": len(self.ltm_subgoals),
                "terminated_at": self.terminated_at, "steps_per_s": self.steps_per_s}


class FragmentationAgent:
    """FARMap (`agent="farmap"`) or Frontier (`agent="frontier"`) exploring `world` (a gridworld
    `GridWorld`) from `start_pose` (module docstring). `run(num_steps)` returns an `EpisodeResult`;
    `step()` makes one move.

    Args:
        agent: "farmap" or "frontier".
        seed: seeds the subgoal sampling (and the `random` fragmentation mode): same seed, same episode.
        gamma: decay of the local maps (0.9).
        rho, frag_mode, min_history: the fragmentation rule (2.0, "z", 26; `SurprisalFragmenter`).
        eps: the far score's distance offset (5).
        ltm_threshold: FARMap consults the LTM when the active map's q is below it (0.05).
        head_bias: FARMap's factor for candidates behind the agent (1e-5).
        min_cluster: candidates smaller than min(min_cluster, largest cluster) are dropped (3).
    """

    def __init__(self, world, start_pose, *, agent: str = "farmap", seed: int = 0, gamma: float = 0.9,
                 rho: float = 2.0, frag_mode: str = "z", min_history: int = 26, eps: float = 5.0,
                 ltm_threshold: float = 0.05, head_bias: float = 1e-5, min_cluster: int = 3):
        self.agent = check_choice("agent", agent, AGENTS)
        self.seed = check_int("seed", seed, 0)
        self.world = world
        self.start = world.check_pose(*start_pose, name="start_pose")
        self.gamma = check_number("gamma", gamma, 0.0, 1.0, low_open=True, high_open=True)
        self.eps = check_positive("eps", eps)
        self.ltm_threshold = check_number("ltm_threshold", ltm_threshold, 0.0)
        self.head_bias = check_number("head_bias", head_bias, 0.0, 1.0, low_open=True)
        self.min_cluster = check_int("min_cluster", min_cluster, 1)
        self.farmap = agent == "farmap"
        self.fragmenter = SurprisalFragmenter(frag_mode, rho, min_history, seed=self.seed)  # unused by Frontier
        self.rng = np.random.default_rng(self.seed)
        self.ltm = LTMGraph()
        self.pose = self.start
        self.stm = LocalMap(world.shape, gamma=self.gamma, map_id=0, origin=self.pose[:2])
        self.ltm.add_map(self.stm)
        self.seen = np.zeros(world.shape, dtype=bool)
        self._seen_flat = self.seen.ravel()
        self._views: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.n_seen = 0
        self.plan: deque = deque()
        self.travel_to: int | None = None  # target map of an LTM subgoal in progress
        self.travelling = False  # whether the last step was part of a trip to an LTM subgoal
        self._switched = False  # a map switch without a move happened while choosing this step's subgoal
        self.near_target = None  # (map id, target frontier cell, its cluster's cells) of a near subgoal
        self.ignored: dict[int, np.ndarray] = {}  # map id -> frontier cells it gave up on
        self.exhausted_at: dict[int, int] = {}  # map id -> its update count when found without candidates
        self._blind_tried: dict[tuple[int, tuple[int, int, int]], set[int]] = {}
        self.visits: list[int] = [self.stm.map_id]  # active map ids, most recent last (unique)
        self.t = 0
        self.fragmentations: list[int] = []
        self.recalls: list[int] = []
        self.ltm_subgoals: list[int] = []
        self.confidence = self._observe()

    # -- maps -------------------------------------------------------------------------------------
    def _activate(self, map_id: int) -> None:
        self.stm = self.ltm.maps[map_id]
        if map_id in self.visits:
            self.visits.remove(map_id)
        self.visits.append(map_id)

    def _view(self, pose) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(world flat indices, map flat indices, classes) of the cells seen from `pose`, cached (the
        world is static, and every map shares the world's frame)."""
        view = self._views.get(pose)
        if view is None:
            rows, cols = self.world.visible_cells(*pose)
            view = (rows * self.world.shape[1] + cols, self.stm.flat_index(rows, cols, check=False),
                    self.world.classes[rows, cols].astype(np.int32))
            self._views[pose] = view
        return view

    def _observe(self) -> float:
        """Observe from the current pose into the active map; returns the confidence."""
        world_flat, map_flat, classes = self._last_view = self._view(self.pose)
        seen = self._seen_flat
        new = np.count_nonzero(~seen[world_flat])
        if new:
            self.n_seen += new
            seen[world_flat] = True
        return self.stm.update_flat(map_flat, classes)

    # -- one step ---------------------------------------------------------------------------------
    def step(self) -> bool:
        """One move, observation and memory update; False (and nothing done) once exploration is over."""
        if not self.plan and not self._select_subgoal():
            return False
        self.t += 1
        target = self.plan.popleft()
        r, c = target[0], target[1]  # the world's move rule (headings.move), inlined: refused into a wall
        H, W = self.world.shape
        moved = 0 <= r < H and 0 <= c < W and bool(self.world.free[r, c]) and target[2] in (0, 1, 2, 3)
        pose = target if moved else self.pose
        if pose != target:  # refused (a blind move into a wall, or a changed world): replan next step
            self.plan.clear()
        self.pose = pose
        recalled, self._switched = self._switched, False  # a map switch made at this step's subgoal choice
        fracture = self.ltm.recall(self.stm.map_id, self.pose) if self.farmap and moved else None
        if fracture is not None:
            self._activate(fracture.other(self.stm.map_id))
            recalled = True
        self.travelling = self.travel_to is not None  # this step is part of a trip to an LTM subgoal
        if self.travelling and not self.plan:  # arrived
            if self.stm.map_id != self.travel_to:
                self._activate(self.travel_to)
                recalled = True
            self.travel_to = None
        if recalled:
            self.recalls.append(self.t)
        self.confidence = self._observe()
        if self.farmap and self.fragmenter.step(1.0 - self.confidence, decide=not (recalled or self.travelling)):
            self._fragment()
        if not self.plan and self.near_target is not None:
            self._check_arrival()
        return True

    def _fragment(self) -> None:
        old = self.stm
        new = LocalMap(self.world.shape, gamma=self.gamma, map_id=len(self.ltm.maps), origin=self.pose[:2])
        self.ltm.fragment(old, new, self.pose, self.t)
        self._activate(new.map_id)
        _, map_flat, classes = self._last_view
        new.update_flat(map_flat, classes)
        self.fragmentations.append(self.t)

    def _check_arrival(self) -> None:
        """At the end of a near-subgoal plan chosen in map M. Still in M: a target frontier cell that is
        still unknown (not visible from the subgoal) is given up by M. Now in another map N (a recall
        on the way): the cells of the target cluster that N knows are N's territory and are given up by
        M (else M sends the agent across the border again and N sends it back: a ping-pong)."""
        map_id, (r, c), cluster = self.near_target
        self.near_target = None
        if map_id == self.stm.map_id:
            give_up = cluster[:0] if self.stm.known[r, c] else np.array([[r, c]])
        else:
            give_up = cluster[self.stm.known[cluster[:, 0], cluster[:, 1]]]
        if len(give_up):
            if map_id not in self.ignored:
                self.ignored[map_id] = np.zeros(self.world.shape, dtype=bool)
            self.ignored[map_id][give_up[:, 0], give_up[:, 1]] = True

    # -- subgoals ---------------------------------------------------------------------------------
    def _grid(self, *extra: tuple[int, int]) -> tuple[int, int, np.ndarray]:
        """(r0, c0, grid): the active map's known-free cells over its window grown to hold the agent's
        cell and the `extra` cells (both marked passable); grid[0, 0] is world cell (r0, c0)."""
        rs, cs = self.stm.window()
        cells = (self.pose[:2], *extra)
        r0, r1 = min(rs.start, *(p[0] for p in cells)), max(rs.stop, *(p[0] + 1 for p in cells))
        c0, c1 = min(cs.start, *(p[1] for p in cells)), max(cs.stop, *(p[1] + 1 for p in cells))
        grid = self.stm.known_free[r0:r1, c0:c1].copy()
        for r, c in cells:
            grid[r - r0, c - c0] = True
        return r0, c0, grid

    def _plan_on(self, grid: np.ndarray, r0: int, c0: int, goal: tuple[int, int], headings) -> list | None:
        """Shortest plan over `grid` (offset r0, c0) to the world cell `goal`, trying `headings` in order."""
        r, c, h = self.pose
        for heading in headings:
            path = plan_path(grid, (r - r0, c - c0, h), (goal[0] - r0, goal[1] - c0), heading)
            if path:
                return [(pr + r0, pc + c0, ph) for pr, pc, ph in path]
        return None

    def _plan(self, goal: tuple[int, int], headings) -> list | None:
        """Shortest plan over the active map's known-free cells (goal included) to `goal`."""
        r0, c0, grid = self._grid(goal)
        return self._plan_on(grid, r0, c0, goal, headings)

    def _near(self) -> bool:
        """Sample a near candidate of the active map and plan to it; False if none. Only the frontier
        next to the known-free cells the agent can reach counts (cells seen past a corner may be
        known-free yet cut off from the agent by unknown cells)."""
        stm, (r, c, _) = self.stm, self.pose
        r0, c0, grid = self._grid()
        labels, _ = ndimage.label(grid)
        reach = labels == labels[r - r0, c - c0]
        window = (slice(r0, r0 + grid.shape[0]), slice(c0, c0 + grid.shape[1]))
        frontier = stm.frontier[window] & ndimage.binary_dilation(reach, structure=_EIGHT)
        ignored = self.ignored.get(stm.map_id)
        if ignored is not None:
            frontier &= ~ignored[window]
        candidates = near_candidates(frontier, reach, self.pose, offset=(r0, c0), min_size=self.min_cluster)
        while len(candidates):
            p = near_probabilities(candidates, self.pose, size_weight=self.farmap,
                                   head_bias=self.head_bias if self.farmap else None)
            k = int(self.rng.choice(len(candidates), p=p))
            heading = int(candidates.headings[k])
            goal = tuple(int(v) for v in candidates.cells[k])
            path = self._plan_on(reach, r0, c0, goal, [(heading + i) % 4 for i in range(4)])
            if path is not None:
                self.plan.extend(path)
                self.near_target = (stm.map_id, tuple(int(v) for v in candidates.targets[k]),
                                    candidates.cluster_cells(k))
                return True
            candidates = candidates.drop(k)
        return False

    def _exhausted(self, map_id: int) -> bool:
        return self.exhausted_at.get(map_id) == self.ltm.maps[map_id].updates

    def _far(self, forced: bool) -> bool:
        """Choose a map in the LTM graph and plan to the fracture leading there; False to stay."""
        ltm, current = self.ltm, self.stm.map_id
        n = ltm.num_nodes
        if n < 2:
            return False
        dist = ltm.map_distances(current, self.pose[:2])
        q = np.array([ltm.maps[j].q for j in range(n)])
        q[current] = self.stm.q
        d = np.array([dist[j] for j in range(n)])
        connected = np.zeros(n, dtype=bool)
        connected[list(ltm.adjacency[current])] = True
        rank = np.zeros(n, dtype=np.int64)
        for i, map_id in enumerate(reversed(self.visits)):
            rank[map_id] = i
        scores = far_scores(q, d, current, eps=self.eps, connected=connected, recency_rank=rank, forced=forced)
        if forced:
            scores[[j for j in range(n) if self._exhausted(j)]] = -math.inf
        while True:
            choice = choose_far(scores, current)
            if choice is None or (forced and scores[choice] <= 0):
                break
            if self._go_to_map(choice):
                return True
            scores[choice] = -math.inf
        if not forced:
            return False
        # nothing worth it next door: head for the nearest map that still has a frontier
        target = self._route(current, q, dist)
        return target is not None and self._go_to_map(target)

    def _route(self, current: int, q: np.ndarray, dist: dict[int, float]) -> int | None:
        """First hop from `current` towards the nearest (hops, then distance) map with q > 0 that is
        not exhausted; None if there is none."""
        parent = {current: None}
        frontier = [current]
        while frontier:
            goals = [j for j in frontier if j != current and q[j] > 0 and not self._exhausted(j)]
            if goals:
                goal = min(goals, key=lambda j: (dist[j], j))
                while parent[goal] != current:
                    goal = parent[goal]
                return goal
            nxt = []
            for j in frontier:
                for k in sorted(self.ltm.adjacency[j]):
                    if k not in parent:
                        parent[k] = j
                        nxt.append(k)
            frontier = nxt
        return None

    def _go_to_map(self, target: int) -> bool:
        """Plan to the nearest fracture point between the active map and `target`, arriving with the
        border's crossing heading if possible; switch at once if already there."""
        fracture = self.ltm.nearest_fracture(self.stm.map_id, target, self.pose[:2])
        if fracture is None:
            return False
        heading = fracture.border_heading(self.stm.map_id)
        if self.pose[:2] == fracture.cell:  # already there: switch without a move (no plan is set)
            self.ltm_subgoals.append(self.t + 1)
            self._activate(target)
            self._switched = True  # logged as a recall of the step that follows
            return True
        path = self._plan(fracture.cell, [(heading + i) % 4 for i in range(4)])
        if path is None:
            return False
        self.plan.extend(path)
        self.travel_to = target
        self.near_target = None
        self.ltm_subgoals.append(self.t + 1)
        return True

    def _select_subgoal(self) -> bool:
        """A new plan (near or far); False when no candidate is left anywhere. A far choice made where
        the agent already stands switches maps without a plan; the search then goes on from the new
        map, and every such round exhausts one more map, so it ends."""
        self.near_target = None
        if self.farmap and self.ltm.num_nodes > 1 and self.stm.q < self.ltm_threshold:
            self._far(forced=False)
            if self.plan:
                return True
        if self._near():
            return True
        self.exhausted_at[self.stm.map_id] = self.stm.updates
        if self.farmap:
            for _ in range(self.ltm.num_nodes):
                if not self._far(forced=True):
                    break
                if self.plan or self._near():
                    return True
                self.exhausted_at[self.stm.map_id] = self.stm.updates
        return self._blind()

    def _blind(self) -> bool:
        """Last resort before exploration ends: a move into an unknown 4-neighbour of the agent's cell
        (the reference turns back when it has nothing to plan on, e.g. facing a wall at the start),
        the reverse heading first, then right, left, ahead; each direction once per pose (a refused
        move leaves the pose, so the next try takes another direction)."""
        r, c, h = self.pose
        H, W = self.world.shape
        tried = self._blind_tried.setdefault((self.stm.map_id, self.pose), set())
        for d in ((h + 2) % 4, (h + 1) % 4, (h + 3) % 4, h):
            nr, nc = r + int(DELTAS[d][0]), c + int(DELTAS[d][1])
            if d not in tried and 0 <= nr < H and 0 <= nc < W and not self.stm.known[nr, nc]:
                tried.add(d)
                self.plan.append((nr, nc, d))
                return True
        return False

    # -- episode ----------------------------------------------------------------------------------
    def run(self, num_steps: int) -> EpisodeResult:
        """Run up to `num_steps` moves and return the records."""
        num_steps = check_int("num_steps", num_steps, 1)
        T = num_steps
        seen = np.zeros(T + 1, dtype=np.int64)
        memory = np.zeros(T + 1, dtype=np.int64)
        map_id = np.zeros(T + 1, dtype=np.int64)
        poses = np.zeros((T + 1, 3), dtype=np.int64)
        confidence = np.full(T + 1, np.nan)
        seen[0], memory[0], map_id[0], poses[0], confidence[0] = (self.n_seen, self.stm.memory, self.stm.map_id,
                                                                   self.pose, self.confidence)
        terminated = None
        start = time.perf_counter()
        first = self.t
        for i in range(1, T + 1):
            if not self.step():
                terminated = i - 1
                seen[i:], memory[i:], map_id[i:], poses[i:], confidence[i:] = (seen[i - 1], memory[i - 1],
                                                                               map_id[i - 1], poses[i - 1], np.nan)
                break
            seen[i], memory[i], map_id[i], poses[i], confidence[i] = (self.n_seen, self.stm.memory, self.stm.map_id,
                                                                      self.pose, self.confidence)
        wall = time.perf_counter() - start
        moves = self.t - first
        area = self.world.visible_area()
        world_size = self.world.shape[0] * self.world.shape[1]
        return EpisodeResult(agent=self.agent, seed=self.seed, num_steps=T, visible_area=area, world_size=world_size,
                             seen=seen, seen_ratio=seen / area, memory=memory, memory_ratio=memory / world_size,
                             map_id=map_id, poses=poses, confidence=confidence,
                             fragmentations=list(self.fragmentations), recalls=list(self.recalls),
                             ltm_subgoals=list(self.ltm_subgoals), terminated_at=terminated, wall_time=wall,
                             steps_per_s=moves / wall if wall > 0 else math.inf, ltm=self.ltm)


def run_episode(world, start_pose, num_steps: int, *, agent: str = "farmap", seed: int = 0, **kwargs) -> EpisodeResult:
    """Run FARMap or Frontier for `num_steps` moves from `start_pose` (see `FragmentationAgent` for the
    keyword arguments: gamma, rho, frag_mode, min_history, eps, ltm_threshold, head_bias, min_cluster)."""
    check_choice("agent", agent, AGENTS)
    num_steps = check_int("num_steps", num_steps, 1)
    return FragmentationAgent(world, start_pose, agent=agent, seed=seed, **kwargs).run(num_steps)
