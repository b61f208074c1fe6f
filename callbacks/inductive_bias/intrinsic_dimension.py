"""Intrinsic-dimension estimators from nearest-neighbour distances (no Lightning).

- `mle_intrinsic_dim`: Levina-Bickel maximum likelihood with MacKay-Ghahramani pooling (spec 2.3):
  for query points x_q with neighbour distances T_1 <= ... <= T_k (self and duplicates excluded),
  m = [mean over queries q and j = 1..k-1 of ln(T_k(q) / T_j(q))]^-1. Default k = 5, 10,000 queries
  (all points when fewer). Returns the raw (unrounded) value: rounding hides the estimator's
  downward bias at larger m (spec 5.3).
- `twonn_intrinsic_dim`: TwoNN (Facco et al. 2017): mu = T_2 / T_1 is Pareto(m) distributed, so
  -ln(1 - F(mu)) = m ln mu; a least-squares line through the origin on the empirical CDF after
  discarding the largest `discard_fraction` of mu.
"""

from __future__ import annotations

import math

import torch

from neurobolts.callbacks.inductive_bias.nearest_neighbours import as_feature_matrix, knn_distances
from neurobolts.plugins.checks import check_fraction, check_int, check_positive_int


def _query_index(n: int, num_queries: int | None, seed: int) -> torch.Tensor:
    num_queries = check_positive_int("num_queries", num_queries, allow_none=True)
    if num_queries is None or num_queries >= n:
        return torch.arange(n)
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=g)[:num_queries]


def mle_intrinsic_dim(
    data,
    k: int = 5,
    num_queries: int | None = 10_000,
    *,
    seed: int = 0,
    query_chunk: int = 1024,
    point_chunk: int = 16384,
) -> float:
    """Pooled Levina-Bickel / MacKay-Ghahramani MLE of the intrinsic dimension (raw float)."""
    k = check_int("k", k, 2, expected="an integer >= 2 (the MLE needs two neighbour distances)")
    x = as_feature_matrix(data)
    if x.shape[0] <= k:
        raise ValueError(f"data must have more than k={k} samples for the MLE, got n={x.shape[0]}")
    index = _query_index(x.shape[0], num_queries, seed)
    t = knn_distances(x, k, index, query_chunk=query_chunk, point_chunk=point_chunk)
    mean_log_ratio = float(torch.log(t[:, k - 1 : k] / t[:, : k - 1]).mean())
    if not mean_log_ratio > 0:
        raise ValueError("all k nearest neighbours are equidistant: the MLE intrinsic dimension is undefined")
    return 1.0 / mean_log_ratio


def twonn_intrinsic_dim(
    data,
    discard_fraction: float = 0.1,
    num_queries: int | None = None,
    *,
    seed: int = 0,
    query_chunk: int = 1024,
    point_chunk: int = 16384,
) -> float:
    """TwoNN estimate of the intrinsic dimension (raw float)."""
    check_fraction("discard_fraction", discard_fraction, high_open=True)
    x = as_feature_matrix(data)
    if x.shape[0] < 3:
        raise ValueError(f"data must have at least 3 samples for TwoNN, got n={x.shape[0]}")
    index = _query_index(x.shape[0], num_queries, seed)
    t = knn_distances(x, 2, index, query_chunk=query_chunk, point_chunk=point_chunk)
    mu, _ = torch.sort(t[:, 1] / t[:, 0])
    n = mu.shape[0]
    keep = max(2, int(math.floor(n * (1.0 - discard_fraction))))
    keep = min(keep, n - 1)  # F = i / n stays below 1
    log_mu = torch.log(mu[:keep])
    cdf = torch.arange(1, keep + 1, dtype=mu.dtype) / n
    y = -torch.log1p(-cdf)
    denom = float((log_mu * log_mu).sum())
    if not denom > 0:
        raise ValueError("all points have equidistant first and second neighbours: TwoNN is undefined")
    return float((log_mu * y).sum()) / denom
