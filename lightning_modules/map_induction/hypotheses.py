"""Map hypotheses of Map Induction: tile assignments found by backtracking, and the hypothesis library
recomputed on every new observation (docs/papers/map_induction.md sections 2.4, 5.1, 5.2 and 6;
oracles 7.2-7.4 and 7.9).

Candidates. The proposals (proposals.py, most observed first), then, with `reflections`, the
reflect_x and reflect_y of each proposal in turn (spec 2.4); exact duplicates (a symmetric room) are
kept once, at their first place in that order. `mirror_size` (h_m, w_m) (default: the whole tile)
limits what a reflection mirrors: reflect_x mirrors the first w_m columns (all rows) and keeps the
other columns in place, reflect_y the first h_m rows (all columns). With the room tiling of
proposals.room_tile_grid (a room plus its right and bottom walls) mirror_size = (s, s) reflects the
room about its own centre and leaves the shared walls where they are.

Search (spec 5.2: a backtracking search replacing the reference's full Cartesian product
|P|^tiles). The complete tiles of the map (proposals.tile_positions) are ordered by their number of
observed cells, most first (ties row-major), and every tile position is assigned one candidate, depth
first, candidates in the order above. A placement is rejected AS SOON AS the candidate conflicts with
an observed cell of its position (exactly one of the two is a wall; rewards are ignored), so no
subtree under an inconsistent partial assignment is visited. At each position, candidates that are
consistent and would write the same values into the position's UNOBSERVED cells (their
"contribution") lead to the same maps, so only the first of each such group is expanded: two leaves
then differ in at least one contribution, and as the tiles do not overlap, every returned map is
distinct (identical full maps are never produced twice). `nodes_visited` counts every candidate
examined at every expanded node (consistent or not): the full product examines |C|^T leaves. As the
tiles do not overlap, whether a candidate fits a position depends on that position's cells alone, so
each position's consistent groups are computed once, on its first expansion, and reused.

A completed hypothesis is the full map: the observed cells as observed (rewards included, AGENT read
as EMPTY) and every unobserved cell of a tile position filled from its candidate. Cells that no tile
covers (before the origin, past the last complete tile) and cells the candidate itself does not know
stay UNOBSERVED: a hypothesis says nothing about them, and the planner treats them like any other
unobserved cell. The assignment that fills no cell at all (the map equals the observation) is not a
hypothesis: it is the posterior's "observed map only" fallback (posterior.py). So a map with nothing
unobserved inside its tiles has no hypotheses.

Cap. The search stops once `max_hypotheses` maps are found (default 81 = 3^4, spec 6's bound of 3
proposals on 4 tiles) and reports `truncated` if at least one more consistent assignment exists; the kept
maps are the first ones in search order. They are then stably sorted by the number of reflected
tiles, fewest first, so that under a uniform posterior the first maximum (`posterior.map_hypothesis`)
is the simplest program (plain tiling before reflections).

Library (`InductionState`, spec 2.4 "reuse consistent hypotheses"; spec 5.1: recompute whenever new
cells are observed, not once per episode). `update(known, collected=None)` restores the collected
rewards into `known` (spec 2.3 step 1: the observed map "with rewards filled in"), and recomputes
proposals and hypotheses when that map differs from the last one and returns True (False, and
nothing recomputed, when it is unchanged). The current set is the new search's maps followed by the
earlier set's maps that still have no conflict with `known`, overlaid with the new observations
(observed cells take their observed values) and still filling at least one cell, without duplicates
and without the maps that a kept map refines (equal to it wherever the old map is not UNOBSERVED:
"less observed", spec 2.5), capped at `max_hypotheses` (new ones first).

numpy only; no torch, no Lightning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neurobolts.datamodules.map_induction.grid_format import AGENT, EMPTY, REWARD, UNOBSERVED, WALL
from neurobolts.plugins.checks import check_int, check_number, is_integer

from .primitives import reflect_x, reflect_y
from .proposals import (
    as_known_map,
    check_origin,
    check_tile_shape,
    conflicts,
    cut_tiles,
    propose,
    restore_rewards,
)

IDENTITY = "identity"
PROPOSAL_CODES = (EMPTY, REWARD, WALL, AGENT, UNOBSERVED)


@dataclass(frozen=True, eq=False)
class Hypotheses:
    """The result of `hypotheses` (module docstring)."""

    maps: np.ndarray  # int8 (n, H, W): the hypothesised full maps
    assignments: np.ndarray  # int (n, T): the candidate index at each tile position (in `positions` order)
    candidates: np.ndarray  # int8 (m, h, w): proposals then their reflections
    sources: np.ndarray  # int (m,): the proposal each candidate comes from
    transforms: tuple[str, ...]  # (m,): "identity", "reflect_x" or "reflect_y"
    positions: np.ndarray  # int (T, 2): top-left cells of the tile positions, in search order
    nodes_visited: int  # candidates examined during the search
    truncated: bool  # True if max_hypotheses cut the search short

    def __len__(self) -> int:
        return len(self.maps)

    @property
    def reflected_tiles(self) -> np.ndarray:
        """int (n,): how many tile positions of each hypothesis hold a reflected candidate."""
        reflected = np.array([t != IDENTITY for t in self.transforms], dtype=bool)
        return reflected[self.assignments].sum(axis=1) if len(self) else np.zeros(0, dtype=int)


def as_proposals(proposals: Any, tile_shape: tuple[int, int]) -> np.ndarray:
    """A validated int8 (n, h, w) copy of the proposals (AGENT read as EMPTY); n may be 0."""
    array = np.asarray(proposals)
    if array.size == 0:
        return np.empty((0, *tile_shape), dtype=np.int8)
    if array.ndim != 3 or array.shape[1:] != tuple(tile_shape):
        raise ValueError(f"proposals must be an array (n, h, w) of tiles of tile_shape {tuple(tile_shape)}, "
                         f"got shape {array.shape}")
    if array.dtype.kind not in "iu" or not np.isin(array, PROPOSAL_CODES).all():
        raise ValueError(f"proposals must hold only the codes {PROPOSAL_CODES}")
    out = array.astype(np.int8)
    out[out == AGENT] = EMPTY
    return out


def check_mirror_size(mirror_size: Any, tile_shape: tuple[int, int]) -> tuple[int, int]:
    """(h_m, w_m) with 1 <= h_m <= h and 1 <= w_m <= w; None means the whole tile."""
    if mirror_size is None:
        return tile_shape
    try:
        hm, wm = mirror_size
    except (TypeError, ValueError):
        hm = wm = None
    h, w = tile_shape
    if not (is_integer(hm) and is_integer(wm) and 1 <= hm <= h and 1 <= wm <= w):
        raise ValueError(f"mirror_size must be None or a pair (h_m, w_m) of integers with 1 <= h_m <= {h} "
                         f"and 1 <= w_m <= {w} (the tile_shape), got {mirror_size!r}")
    return int(hm), int(wm)


def mirrored(tile: np.ndarray, transform: str, mirror_size: tuple[int, int]) -> np.ndarray:
    """`tile` under "reflect_x" / "reflect_y" restricted to its first mirror_size rows / columns."""
    out = tile.copy()
    hm, wm = mirror_size
    if transform == "reflect_x":
        out[:, :wm] = reflect_x(tile[:, :wm])
    elif transform == "reflect_y":
        out[:hm, :] = reflect_y(tile[:hm, :])
    else:
        raise ValueError(f"transform must be one of ('reflect_x', 'reflect_y'), got {transform!r}")
    return out


def candidate_tiles(proposals: np.ndarray, reflections: bool = True, mirror_size: Any = None
                    ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(candidates (m, h, w), sources (m,), transforms): the proposals, then the reflections of each
    with `reflections`, exact duplicates dropped (module docstring)."""
    mirror_size = check_mirror_size(mirror_size, proposals.shape[1:])
    items = [(p, i, IDENTITY) for i, p in enumerate(proposals)]
    if reflections:
        for i, p in enumerate(proposals):
            items += [(mirrored(p, t, mirror_size), i, t) for t in ("reflect_x", "reflect_y")]
    seen: set[bytes] = set()
    kept = []
    for tile, source, transform in items:
        if tile.tobytes() not in seen:
            seen.add(tile.tobytes())
            kept.append((tile, source, transform))
    h, w = proposals.shape[1:]
    tiles = np.stack([k[0] for k in kept]) if kept else np.empty((0, h, w), dtype=np.int8)
    return tiles, np.array([k[1] for k in kept], dtype=int), tuple(k[2] for k in kept)


def hypotheses(known: Any, proposals: Any, tile_shape: Any, origin: Any = (0, 0), max_hypotheses: int = 81,
               reflections: bool = True, mirror_size: Any = None) -> Hypotheses:
    """Backtracking search for the tile assignments consistent with `known` (module docstring)."""
    known = as_known_map(known)
    tile_shape, origin = check_tile_shape(tile_shape), check_origin(origin)
    proposals = as_proposals(proposals, tile_shape)
    max_hypotheses = check_int("max_hypotheses", max_hypotheses, 1)
    if not isinstance(reflections, bool):
        raise ValueError(f"reflections must be a bool, got {reflections!r}")
    tiles, positions = cut_tiles(known, tile_shape, origin)
    order = np.argsort(-(tiles != UNOBSERVED).sum(axis=(1, 2)), kind="stable")
    tiles, positions = tiles[order], positions[order]
    candidates, sources, transforms = candidate_tiles(proposals, reflections, mirror_size)
    T, m = len(tiles), len(candidates)

    children: list[list[tuple[int, bool]] | None] = [None] * T  # per position: (candidate, fills a cell)

    def expand(depth: int) -> list[tuple[int, bool]]:
        if children[depth] is None:
            tile = tiles[depth]
            consistent = ~conflicts(tile[None], candidates).any(axis=(1, 2))
            contributions = np.where(tile[None] == UNOBSERVED, candidates, UNOBSERVED)
            seen: set[bytes] = set()
            groups = []
            for c in np.flatnonzero(consistent):
                key = contributions[c].tobytes()
                if key not in seen:
                    seen.add(key)
                    groups.append((int(c), bool((contributions[c] != UNOBSERVED).any())))
            children[depth] = groups
        return children[depth]

    # depth-first search with an explicit stack (no recursion limit on the number of tiles): stack[d]
    # iterates the candidate groups of position d while positions < d hold `assignment`
    found: list[tuple[int, ...]] = []
    truncated = False
    assignment: list[int] = []
    nodes = m  # every candidate is examined at every expanded node; the inconsistent ones are pruned
    stack = [iter(expand(0))] if m else []
    fills = [False]  # fills[d]: the assignment of positions < d fills at least one cell
    while stack:
        d = len(stack) - 1
        step = next(stack[d], None)
        if step is None:
            stack.pop()
            fills.pop()
            if d:
                assignment.pop()
            continue
        candidate, adds = step
        if d + 1 < T:
            assignment.append(candidate)
            fills.append(fills[d] or adds)
            stack.append(iter(expand(d + 1)))
            nodes += m
        elif fills[d] or adds:  # a complete assignment that fills a cell: a hypothesis
            if len(found) == max_hypotheses:
                truncated = True
                break
            found.append((*assignment, candidate))
    maps = np.empty((len(found), *known.shape), dtype=np.int8)
    h, w = tile_shape
    for n, chosen in enumerate(found):
        full = known.copy()
        for (r, c), candidate in zip(positions, chosen, strict=True):
            window = full[r:r + h, c:c + w]
            np.copyto(window, candidates[candidate], where=window == UNOBSERVED)
        maps[n] = full
    result = Hypotheses(maps, np.array(found, dtype=int).reshape(len(found), T), candidates, sources,
                        transforms, positions, nodes, truncated)
    simplest_first = np.argsort(result.reflected_tiles, kind="stable")
    return Hypotheses(maps[simplest_first], result.assignments[simplest_first], candidates, sources,
                      transforms, positions, nodes, truncated)


class InductionState:
    """Proposals and hypotheses kept up to date with the observations, with the library of earlier
    hypotheses (module docstring). `maps` is the current hypothesis set (int8 (n, H, W))."""

    def __init__(self, tile_shape: Any, origin: Any = (0, 0), *, max_unobserved: float = 0.75,
                 max_proposals: int = 3, max_hypotheses: int = 81, reflections: bool = True,
                 mirror_size: Any = None) -> None:
        self.tile_shape = check_tile_shape(tile_shape)
        self.origin = check_origin(origin)
        self.max_unobserved = check_number("max_unobserved", max_unobserved, 0, 1, low_open=True)
        self.max_proposals = check_int("max_proposals", max_proposals, 1)
        self.max_hypotheses = check_int("max_hypotheses", max_hypotheses, 1)
        if not isinstance(reflections, bool):
            raise ValueError(f"reflections must be a bool, got {reflections!r}")
        self.reflections = reflections
        self.mirror_size = check_mirror_size(mirror_size, self.tile_shape)
        self.known: np.ndarray | None = None
        self.proposals: np.ndarray | None = None
        self.result: Hypotheses | None = None  # the latest search
        self.maps = np.empty((0, 0, 0), dtype=np.int8)
        self.from_library = 0  # how many of `maps` were carried over from earlier calls
        self.recomputations = 0

    def update(self, known: Any, collected: Any = None) -> bool:
        """Recompute if the observation changed since the last call; True if it did (and was
        recomputed). `collected` (None, a bool mask or (row, col) cells) are restored as rewards
        before anything else (proposals.restore_rewards), so that the rooms where rewards were
        collected still predict rewards elsewhere; the posterior is told what was collected."""
        known = restore_rewards(known, collected)
        if self.known is not None:
            if known.shape != self.known.shape:
                raise ValueError(f"known must keep the map's shape {self.known.shape}, got {known.shape}")
            if np.array_equal(known, self.known):
                return False
        self.proposals = propose(known, self.tile_shape, self.origin, self.max_unobserved, self.max_proposals)
        self.result = hypotheses(known, self.proposals, self.tile_shape, self.origin, self.max_hypotheses,
                                 self.reflections, self.mirror_size)
        maps = list(self.result.maps)
        seen = {m.tobytes() for m in maps}
        carried = 0
        for old in self.maps:
            if len(maps) >= self.max_hypotheses:
                break
            if conflicts(old, known).any():
                continue
            overlaid = np.where(known != UNOBSERVED, known, old)
            if np.array_equal(overlaid, known) or overlaid.tobytes() in seen:
                continue
            if any(np.all((overlaid == UNOBSERVED) | (overlaid == m)) for m in maps):
                continue  # a kept map already says all this one says, and more
            seen.add(overlaid.tobytes())
            maps.append(overlaid)
            carried += 1
        self.maps = np.stack(maps) if maps else np.empty((0, *known.shape), dtype=np.int8)
        self.from_library = carried
        self.known = known
        self.recomputations += 1
        return True
