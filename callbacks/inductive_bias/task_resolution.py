"""Data radius R and resolution delta of a classification task (no Lightning; spec 2.3).

- `data_radius`: R = max_i ||x_i||_2.
- `sample_resolution`: the minimum distance between differently labelled points of a random subset
  (default 30,000 points), ignoring pairs at distance <= `duplicate_distance` (the duplicate guard;
  the reference used 1.0 on raw [0, 1] pixels; the default 0 ignores exact duplicates only).
- `extreme_value_resolution`: the minimum over *all* different-class pairs extrapolated from random
  pairs by extreme-value theory: u = 1 / distance for `num_pairs` random different-class pairs, the
  Dekkers-Einmahl-de Haan moment estimator on the top k order statistics above the threshold
  u_(k+1), gamma = M1 + 1 - 1/2 / (1 - M1^2 / M2), and the extrapolated maximum
  u* = u_(k+1) + u_(k+1) M1 (a^gamma - 1) / gamma, a = k P / num_pairs with P the number of
  (ordered) different-class pairs of the whole set; delta = min(1 / u*, smallest sampled distance).
"""

from __future__ import annotations

import math

import torch

from neurobolts.callbacks.inductive_bias.nearest_neighbours import as_feature_matrix, min_interclass_distance
from neurobolts.plugins.checks import check_int, check_number


def data_radius(data) -> float:
    """R = the largest Euclidean norm of a sample."""
    x = as_feature_matrix(data)
    return float(torch.linalg.vector_norm(x, dim=1).max())


def as_labels(labels, n: int) -> torch.Tensor:
    """(n,) integer class labels with at least two classes."""
    y = torch.as_tensor(labels)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"labels must have shape ({n},) to match the data, got {tuple(y.shape)}")
    if y.is_floating_point():
        if not torch.isfinite(y).all() or not torch.equal(y, torch.round(y)):
            raise ValueError("labels must be integer class indices, got non-integer values")
    y = y.long()
    if torch.unique(y).numel() < 2:
        raise ValueError(f"labels must contain at least 2 classes, got only class {int(y[0])}")
    return y


def sample_resolution(
    data,
    labels,
    subset: int | None = 30_000,
    *,
    duplicate_distance: float = 0.0,
    seed: int = 0,
    query_chunk: int = 1024,
    point_chunk: int = 16384,
) -> float:
    """Minimum different-class distance on a random subset (all points when `subset` is None)."""
    x = as_feature_matrix(data)
    y = as_labels(labels, x.shape[0])
    guard = check_number("duplicate_distance", duplicate_distance, 0)
    subset = check_int("subset", subset, 2, allow_none=True)
    if subset is not None and subset < x.shape[0]:
        index = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))[:subset]
        x, y = x[index], y[index]
    delta = min_interclass_distance(x, y, duplicate_distance=guard, query_chunk=query_chunk, point_chunk=point_chunk)
    if not math.isfinite(delta):
        raise ValueError(
            f"no pair of differently labelled points lies farther apart than duplicate_distance={guard}: "
            "the resolution is undefined (use a larger subset or a smaller duplicate_distance)"
        )
    return delta


def extreme_value_resolution(
    data,
    labels,
    num_pairs: int = 4_000_000,
    k: int = 2000,
    *,
    duplicate_distance: float = 0.0,
    seed: int = 0,
    batch_pairs: int = 65_536,
) -> float:
    """EVT-extrapolated minimum distance between differently labelled points."""
    x = as_feature_matrix(data)
    y = as_labels(labels, x.shape[0])
    guard = check_number("duplicate_distance", duplicate_distance, 0)
    k = check_int("k", k, 2)
    num_pairs = check_int("num_pairs", num_pairs, k + 1, expected=f"an integer > k={k}")
    n = x.shape[0]
    counts = torch.bincount(y - y.min()).double()
    total_pairs = float(n) ** 2 - float((counts * counts).sum())
    g = torch.Generator().manual_seed(seed)
    top = torch.empty(0, dtype=x.dtype)  # the k+1 largest u = 1 / distance seen so far
    seen, draws = 0, 0
    max_draws = 100 * num_pairs
    while seen < num_pairs:
        if draws > max_draws:
            raise ValueError(
                f"could not draw {num_pairs} different-class pairs farther apart than duplicate_distance={guard}"
            )
        size = min(batch_pairs, 2 * (num_pairs - seen) + 16)
        i = torch.randint(n, (size,), generator=g)
        j = torch.randint(n, (size,), generator=g)
        draws += size
        dist = torch.linalg.vector_norm(x[i] - x[j], dim=1)
        valid = (y[i] != y[j]) & (dist > guard)
        dist = dist[valid][: num_pairs - seen]
        seen += dist.numel()
        top = torch.cat([top, 1.0 / dist])
        if top.numel() > k + 1:
            top = torch.topk(top, k + 1, sorted=False).values
    top, _ = torch.sort(top, descending=True)
    threshold = top[k]
    log_excess = torch.log(top[:k] / threshold)
    m1 = float(log_excess.mean())
    m2 = float((log_excess * log_excess).mean())
    sample_min = 1.0 / float(top[0])
    if not (m2 > 0 and m1 * m1 < m2):
        return sample_min  # no spread above the threshold: nothing to extrapolate
    gamma = m1 + 1.0 - 0.5 / (1.0 - m1 * m1 / m2)
    a = k * total_pairs / num_pairs
    growth = math.log(a) if abs(gamma) < 1e-12 else math.expm1(gamma * math.log(a)) / gamma
    u_star = float(threshold) * (1.0 + m1 * growth)
    if not u_star > 0:
        return sample_min
    return min(1.0 / u_star, sample_min)
