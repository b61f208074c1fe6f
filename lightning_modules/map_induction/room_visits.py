"""How many of POMCP's simulated paths first enter each new room: what the human-fit analysis of Map
Induction reads from a search (docs/papers/map_induction.md section 4: "the model's probability of the
room the human entered next, estimated from POMCP tree visit counts over paths ending in a new
room"). Both counters work on searches of pomcp.POMCP over navigation.NavigationModel.

A simulated path starts at the root's cell and "enters a new room" at its first cell that lies in a
room (room id >= 0 in the world's `rooms` grid; doors and walls are not rooms) other than
`from_room`. Each simulation of a search counts at most once, for that first new room.

- `first_room_visits(planner, rooms, from_room)` (the spec's tree counts) walks the tree of the
  planner's last search. A history node below the root stands for the cell its observation names
  (NavigationModel's observation of a step is 2 * flat cell + collected, so the cell is
  observation // 2). Along each root-to-node path, the first node in a new room ends the path: the
  simulations that reached that node (its arrivals) are added to that room's count and the walk does
  not go below it; other nodes are walked through. Arrivals of a node = its particles (POMCP appends
  the simulated state to a child each time a simulation reaches it): unlike N(h), this also counts the
  visit that expanded the node and visits that reached it at the depth limit, so a planner made with
  `keep_particles=False` is refused. Only the tree part of a simulation is seen: a path that enters a
  new room during its rollout (which the tree does not keep) is not counted.
- `FirstRoomRecorder(model, rooms, from_room)` (whole simulated paths) wraps the model a search runs
  on and watches every simulated step, in the tree and in the rollouts: `counts` is the number of
  simulations whose whole path (at most max_depth steps) first entered each room. A simulation starts
  when the planner draws a root state from the belief, so the root belief must go through
  `recorder.belief(sampler)`. The rollout is the generic loop of pomcp.GenerativeModel (the model's
  `rollout_policy` and `step`), which draws the same random numbers as NavigationModel's fast rollout
  and makes the same moves (navigation.py: "step and rollout are exact equivalents"), so a search on
  the recorder builds the same tree, with the same decision, as a search on the model itself (only
  slower), and its tree can be read by `first_room_visits` too. Per room, the tree count of a search
  is at most its path count (a tree path's first new room is its whole path's first new room).

How many paths reach a new room depends on where the search starts and on its depth (measurements in
human_fit.py).

Pure Python and numpy; no torch, no Lightning.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

from neurobolts.plugins.checks import is_integer

from .navigation import NavigationModel
from .pomcp import POMCP, GenerativeModel


def _room_grid(rooms: Any) -> np.ndarray:
    rooms = np.asarray(rooms)
    if rooms.ndim != 2 or rooms.size == 0 or not np.issubdtype(rooms.dtype, np.integer):
        raise ValueError(f"rooms must be a non-empty 2-D integer grid of room ids, got {rooms.dtype} {rooms.shape}")
    return rooms


def _check_from_room(from_room: Any) -> int:
    if not is_integer(from_room):
        raise ValueError(f"from_room must be an integer room id, got {from_room!r}")
    return int(from_room)


def first_room_visits(planner: POMCP, rooms: Any, from_room: int) -> dict[int, int]:
    """{room: simulations whose tree path first entered `room`} over the rooms other than `from_room`
    that some tree path entered, by room id (module docstring). `rooms` is the int (H, W) room id grid
    of the world the planner's model navigates."""
    if not isinstance(planner, POMCP):
        raise ValueError(f"planner must be a POMCP, got {type(planner).__name__}")
    if not planner.keep_particles:
        raise ValueError("planner must keep particles (keep_particles=True): a node's arrivals are its particles")
    if planner.root is None or not planner.root.actions:
        raise ValueError("first_room_visits needs a search first: call planner.plan(belief, rng)")
    room_of = _room_grid(rooms).ravel()
    from_room = _check_from_room(from_room)
    counts: dict[int, int] = {}
    stack = [planner.root]
    while stack:
        node = stack.pop()
        for edge in (node.actions or {}).values():
            for observation, child in edge.children.items():
                cell = int(observation) // 2
                if not 0 <= cell < room_of.size:
                    raise ValueError(f"the tree's observation {observation!r} names no cell of the "
                                     f"{np.shape(rooms)[0]}x{np.shape(rooms)[1]} room grid; rooms must be the "
                                     "grid of the world the planner's model navigates")
                room = int(room_of[cell])
                if room >= 0 and room != from_room:
                    if child.particles:
                        counts[room] = counts.get(room, 0) + len(child.particles)
                else:
                    stack.append(child)
    return dict(sorted(counts.items()))


class FirstRoomRecorder(GenerativeModel):
    """A NavigationModel seen through a recorder of the first new room of each simulated path
    (module docstring). Search on it with `planner.plan(recorder.belief(model.belief(cell)), rng)`;
    `counts` then holds {room: simulations whose path first entered it} (by room id) and
    `simulations` the number of root states drawn (the searches' simulations, plus one draw per fresh
    root that POMCP makes to list the root's actions)."""

    def __init__(self, model: NavigationModel, rooms: Any, from_room: int) -> None:
        if not isinstance(model, NavigationModel):
            raise ValueError(f"model must be a NavigationModel, got {type(model).__name__}")
        rooms = _room_grid(rooms)
        if rooms.shape != model.shape:
            raise ValueError(f"rooms must have the model's map shape {model.shape}, got {rooms.shape}")
        self.model = model
        self.n_actions = model.n_actions
        self.from_room = _check_from_room(from_room)
        self._room_of: list[int] = rooms.ravel().tolist()
        self._counts: dict[int, int] = {}
        self._watching = False  # True while the current simulation has entered no new room yet
        self.simulations = 0

    @property
    def counts(self) -> dict[int, int]:
        return dict(sorted(self._counts.items()))

    def belief(self, sampler: Callable[[random.Random], Any]) -> Callable[[random.Random], Any]:
        """The root belief `sampler`, marking the start of a simulation at each draw."""
        if not callable(sampler):
            raise ValueError(f"sampler must be a callable rng -> state (NavigationModel.belief), got {sampler!r}")

        def sample(rng: random.Random) -> Any:
            self._watching = True
            self.simulations += 1
            return sampler(rng)

        return sample

    def legal_actions(self, state: Any) -> tuple[int, ...]:
        return self.model.legal_actions(state)

    def rollout_policy(self, state: Any, rng: random.Random) -> int:
        return self.model.rollout_policy(state, rng)

    def step(self, state: Any, action: int, rng: random.Random) -> tuple[Any, int, float, bool]:
        next_state, observation, reward, done = self.model.step(state, action, rng)
        if self._watching:
            room = self._room_of[next_state[0]]
            if room >= 0 and room != self.from_room:
                self._counts[room] = self._counts.get(room, 0) + 1
                self._watching = False
        return next_state, observation, reward, done
