"""Subgoal candidates of FARMap and Frontier (docs/papers/farmap.md section 2.5).

Near candidates (the active local map): the frontier (unknown cells 8-adjacent to known-free cells)
is split into 8-connected clusters; each cluster gives the frontier cell nearest (Manhattan) to its
centroid, ties to the first in row-major order, snapped to the nearest known-free cell (Euclidean:
one of its 8 neighbours, 4-neighbours first, ties in row-major order), with the heading from that
cell towards the frontier cell (the larger component of the displacement, vertical on a tie), so the
agent arrives looking at the unknown. Clusters of one cell are dropped, then the candidate whose
pose is the agent's own pose (nothing new to see there), then those smaller than min(3, largest size
left). The agent samples with p proportional to 1 / distance (Euclidean, agent cell to candidate cell,
as in the reference, counted as at least 1); FARMap also multiplies by the cluster size and by 1e-5
for candidates behind the agent (negative projection on its heading).

Deviation from the reference (named): the reference's heading points from the agent towards the
candidate and it drops every candidate on the agent's cell; it then falls back to turning back. A
candidate on the agent's cell with another heading means "look the other way from here", which the
heading towards the frontier cell expresses directly.

Far candidates (the LTM graph): score_j = q_j / (d_cj + eps) times a temporal penalty
min(1, 0.95 + 0.01 i) for the map of recency rank i (0 = the current map, which has no penalty);
maps not directly connected to the current one are masked; in forced mode the current map is too.
The argmax is the map to go to; the current map (also on a tie) means "keep exploring here".

numpy + scipy.ndimage; no torch, no Lightning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from neurobolts.plugins.checks import check_number

_EIGHT = np.ones((3, 3), dtype=bool)
# the 8 neighbours by Euclidean distance, then row-major: the snap order
_SNAP = np.array([(-1, 0), (0, -1), (0, 1), (1, 0), (-1, -1), (-1, 1), (1, -1), (1, 1)])
_DELTAS = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]])  # UP, RIGHT, DOWN, LEFT


@dataclass
class NearCandidates:
    """Near subgoal candidates (world cells), one per kept frontier cluster."""

    cells: np.ndarray  # (n, 2) known-free cells to go to
    headings: np.ndarray  # (n,) heading to arrive with: from the cell towards its frontier target
    targets: np.ndarray  # (n, 2) the frontier cell each candidate looks at
    sizes: np.ndarray  # (n,) cluster sizes
    distances: np.ndarray  # (n,) Euclidean distance from the agent's cell
    clusters: np.ndarray | None = None  # (n,) cluster label of each candidate in `labels`
    labels: np.ndarray | None = None  # cluster labels of the window (0 = no frontier)
    offset: tuple[int, int] = (0, 0)  # world cell of the window's (0, 0)

    def __len__(self) -> int:
        return len(self.cells)

    def drop(self, index: int) -> NearCandidates:
        keep = np.arange(len(self)) != index
        return NearCandidates(self.cells[keep], self.headings[keep], self.targets[keep], self.sizes[keep],
                              self.distances[keep], None if self.clusters is None else self.clusters[keep],
                              self.labels, self.offset)

    def cluster_cells(self, index: int) -> np.ndarray:
        """(k, 2) world cells of the frontier cluster of candidate `index`."""
        return np.argwhere(self.labels == self.clusters[index]) + np.asarray(self.offset)


def heading_towards(dr: np.ndarray, dc: np.ndarray) -> np.ndarray:
    """Heading of the displacement (dr, dc): the axis of the larger component, vertical on a tie."""
    vertical = np.abs(dr) >= np.abs(dc)
    return np.where(vertical, np.where(dr < 0, 0, 2), np.where(dc > 0, 1, 3)).astype(np.int64)


def frontier_clusters(frontier: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected component labels of a bool frontier grid (0 = not frontier) and their count."""
    return ndimage.label(frontier, structure=_EIGHT)


def near_candidates(frontier: np.ndarray, known_free: np.ndarray, agent_pose: tuple[int, int, int], *,
                    offset: tuple[int, int] = (0, 0), min_size: int = 3) -> NearCandidates:
    """Candidates from the bool `frontier` and `known_free` grids of a window whose cell (0, 0) is the
    world cell `offset`; `agent_pose` is the agent's world (row, col, heading) (module docstring)."""
    frontier = np.asarray(frontier, dtype=bool)
    known_free = np.asarray(known_free, dtype=bool)
    labels, n = frontier_clusters(frontier)
    empty = NearCandidates(np.zeros((0, 2), np.int64), np.zeros(0, np.int64), np.zeros((0, 2), np.int64),
                           np.zeros(0, np.int64), np.zeros(0))
    if n == 0:
        return empty
    flat = np.flatnonzero(labels)
    lab = labels.ravel()[flat]
    H, W = frontier.shape
    rows, cols = flat // W, flat % W
    sizes = np.bincount(lab, minlength=n + 1)
    centre_r = np.bincount(lab, rows, minlength=n + 1)[lab] / sizes[lab]
    centre_c = np.bincount(lab, cols, minlength=n + 1)[lab] / sizes[lab]
    gap = np.abs(rows - centre_r) + np.abs(cols - centre_c)
    order = np.lexsort((flat, gap, lab))  # per label: nearest to the centroid, then row-major
    first = order[np.r_[True, lab[order][1:] != lab[order][:-1]]]
    clusters = lab[first]
    sizes = sizes[clusters]
    keep = sizes > 1
    if not keep.any():
        return empty
    first, sizes, clusters = first[keep], sizes[keep], clusters[keep]
    tr, tc = rows[first], cols[first]
    # snap to the nearest known-free cell: some 8-neighbour is one (that made the cell a frontier cell)
    nr, nc = tr[:, None] + _SNAP[None, :, 0], tc[:, None] + _SNAP[None, :, 1]
    inside = (nr >= 0) & (nr < H) & (nc >= 0) & (nc < W)
    ok = np.zeros(nr.shape, dtype=bool)
    ok[inside] = known_free[nr[inside], nc[inside]]
    if not ok.any(axis=1).all():
        raise ValueError("frontier must only hold cells 8-adjacent to a known_free cell")
    pick = ok.argmax(axis=1)
    sr, sc = nr[np.arange(len(pick)), pick], nc[np.arange(len(pick)), pick]
    headings = heading_towards(tr - sr, tc - sc)
    cells = np.stack([sr + offset[0], sc + offset[1]], axis=1).astype(np.int64)
    targets = np.stack([tr + offset[0], tc + offset[1]], axis=1).astype(np.int64)
    r, c, h = agent_pose
    keep = (cells[:, 0] != r) | (cells[:, 1] != c) | (headings != h)
    if not keep.any():
        return empty
    cells, headings, targets, sizes, clusters = cells[keep], headings[keep], targets[keep], sizes[keep], clusters[keep]
    keep = sizes >= min(min_size, int(sizes.max()))
    cells, headings, targets, sizes, clusters = cells[keep], headings[keep], targets[keep], sizes[keep], clusters[keep]
    distances = np.hypot(cells[:, 0] - r, cells[:, 1] - c)
    return NearCandidates(cells, headings, targets, sizes.astype(np.int64), distances, clusters, labels,
                          (int(offset[0]), int(offset[1])))


def near_probabilities(candidates: NearCandidates, agent_pose: tuple[int, int, int], *,
                       size_weight: bool = True, head_bias: float | None = 1e-5) -> np.ndarray:
    """Sampling probabilities: 1 / max(distance, 1), times the cluster size if `size_weight`, times
    `head_bias` for candidates behind the agent (None = no bias)."""
    if len(candidates) == 0:
        raise ValueError("candidates must hold at least one candidate, got none")
    weights = 1.0 / np.maximum(candidates.distances, 1.0)
    if size_weight:
        weights = weights * candidates.sizes
    if head_bias is not None:
        check_number("head_bias", head_bias, 0.0, 1.0, low_open=True)
        r, c, h = agent_pose
        ahead = (candidates.cells[:, 0] - r) * _DELTAS[h][0] + (candidates.cells[:, 1] - c) * _DELTAS[h][1]
        weights = np.where(ahead < 0, weights * head_bias, weights)
    return weights / weights.sum()


def temporal_penalty(rank: int) -> float:
    """min(1, 0.95 + 0.01 rank): the penalty of the map of recency rank `rank` (0 = most recent)."""
    return min(1.0, 0.95 + 0.01 * rank)


def far_scores(q, d, current: int, *, eps: float = 5.0, connected=None, recency_rank=None,
               forced: bool = False) -> np.ndarray:
    """Scores q_j / (d_j + eps) of the maps (index = map id) seen from map `current` (module
    docstring). `connected`: bool mask of the maps directly connected to `current` (None = all);
    `recency_rank`: rank of each map by last visit, 0 = most recent (None = no penalty); masked maps
    score -inf."""
    q = np.asarray(q, dtype=float)
    d = np.asarray(d, dtype=float)
    if q.shape != d.shape or q.ndim != 1:
        raise ValueError(f"q and d must be 1-D of one length, got shapes {q.shape} and {d.shape}")
    if not 0 <= current < q.size:
        raise ValueError(f"current must be a map index in [0, {q.size - 1}], got {current!r}")
    check_number("eps", eps, 0.0, low_open=True)
    scores = q / (d + eps)
    if recency_rank is not None:
        penalty = np.array([1.0 if j == current else temporal_penalty(int(rank))
                            for j, rank in enumerate(recency_rank)])
        scores = scores * penalty
    scores = np.where(np.isfinite(d), scores, -math.inf)
    if connected is not None:
        mask = np.asarray(connected, dtype=bool).copy()
        mask[current] = True
        scores = np.where(mask, scores, -math.inf)
    if forced:
        scores[current] = -math.inf
    return scores


def choose_far(scores: np.ndarray, current: int) -> int | None:
    """The map to go to, or None to stay: None if the current map scores at least the best other map
    (ties stay) or if every score is masked; ties between other maps go to the lowest id."""
    scores = np.asarray(scores, dtype=float)
    best = int(np.argmax(scores))
    if not np.isfinite(scores[best]) or scores[current] >= scores[best]:
        return None
    return best
