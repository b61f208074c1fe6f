"""Geometric (shape) Procrustes distance between two point clouds: the baseline DSA is compared with.

Williams et al. (NeurIPS 2021) `LinearMetric(alpha=1, center_columns=True)`: centre each column,
scale to unit Frobenius norm, align with the best orthogonal map (closed form via the nuclear norm of
X^T Y), then `angular` = arccos(||X^T Y||_*) in [0, pi/2] and `euclidean` = the residual in [0, sqrt(2)].
"""

from __future__ import annotations

import numpy as np

from neurobolts.plugins.checks import check_choice

SCORE_METHODS = ("angular", "euclidean")


def _prepare(X, name: str) -> np.ndarray:
    X = np.asarray(X.cpu() if hasattr(X, "cpu") else X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (samples, features), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    X = X - X.mean(axis=0, keepdims=True)
    norm = np.linalg.norm(X)
    if norm == 0:
        raise ValueError(f"{name} is constant: no shape to compare")
    return X / norm


def procrustes_distance(X, Y, score_method: str = "angular") -> float:
    """Shape distance between (samples, features) arrays with the same samples (features zero-padded)."""
    check_choice("score_method", score_method, SCORE_METHODS)
    X, Y = _prepare(X, "X"), _prepare(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must have the same number of samples, got {X.shape[0]} and {Y.shape[0]}")
    width = max(X.shape[1], Y.shape[1])
    X = np.pad(X, ((0, 0), (0, width - X.shape[1])))
    Y = np.pad(Y, ((0, 0), (0, width - Y.shape[1])))
    similarity = min(1.0, float(np.linalg.svd(X.T @ Y, compute_uv=False).sum()))
    if score_method == "euclidean":
        return float(np.sqrt(max(0.0, 2 - 2 * similarity)))
    return float(np.arccos(similarity))


def pairwise_procrustes_distances(items: list, score_method: str = "angular") -> np.ndarray:
    """Symmetric (n, n) matrix of `procrustes_distance` with a zero diagonal."""
    n = len(items)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = procrustes_distance(items[i], items[j], score_method)
    return out
