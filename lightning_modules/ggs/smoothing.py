"""Graph-based smoothing of a learned fitness landscape (docs/papers/ggs.md section 2.4, Alg. 2):
Y_hat = argmin ||Y - Y_hat||^2 + gamma * Y_hat^T L Y_hat, i.e. the linear system (I + gamma L) Y_hat = Y,
solved by conjugate gradients (I + gamma L is symmetric positive definite for a Laplacian L and
gamma >= 0), started at Y.

`graph_smooth` chains the stages: node augmentation (augmentation.py) -> labels Y = the unsmoothed
model's predictions on every node (training sequences included) -> exact kNN (graph.py) ->
adjacency -> Laplacian -> solve. The caller then trains a fresh CNN on (nodes, Y_hat) (step 5).
`dirichlet_energy(L, y)` = y^T L y, the roughness that smoothing lowers (spec section 7 item 4).
Pure numpy/scipy/torch; the model enters only through the `predict` callable; no Lightning.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import cg

from neurobolts.lightning_modules.ggs.augmentation import MODES, augment_nodes
from neurobolts.lightning_modules.ggs.graph import (
    LAPLACIANS,
    METRICS,
    WEIGHTS,
    adjacency,
    default_k,
    knn_graph,
    laplacian,
)
from neurobolts.plugins.checks import (
    check_choice,
    check_int,
    check_number,
    check_positive,
    check_positive_int,
)


def _check_system(laplacian_matrix: sp.spmatrix, labels: np.ndarray) -> np.ndarray:
    if not sp.issparse(laplacian_matrix) or laplacian_matrix.shape[0] != laplacian_matrix.shape[1]:
        raise ValueError(f"laplacian must be a square scipy sparse matrix, got {type(laplacian_matrix).__name__} "
                         f"of shape {getattr(laplacian_matrix, 'shape', None)}")
    y = np.asarray(labels, dtype=np.float64)
    if y.shape != (laplacian_matrix.shape[0],):
        raise ValueError(f"labels must have shape ({laplacian_matrix.shape[0]},) (one per node), got {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError(f"labels must be finite, got {int((~np.isfinite(y)).sum())} non-finite values")
    return y


def smooth_labels(laplacian: sp.spmatrix, labels: np.ndarray, gamma: float = 1.0, *, rtol: float = 1e-6,
                  maxiter: int | None = None) -> np.ndarray:
    """Y_hat solving (I + gamma L) Y_hat = Y by CG from Y_hat = Y, to ||residual|| <= rtol ||Y||.
    gamma == 0 returns a copy of Y; CG not converging within `maxiter` (scipy's default 10 N when
    None) raises RuntimeError."""
    gamma = check_number("gamma", gamma, 0)
    rtol = check_positive("rtol", rtol)
    maxiter = check_positive_int("maxiter", maxiter, allow_none=True)
    y = _check_system(laplacian, labels)
    if gamma == 0:
        return y.copy()
    system = (sp.identity(len(y), format="csr") + gamma * sp.csr_matrix(laplacian, dtype=np.float64)).tocsr()
    iterations = 0

    def count(_: np.ndarray) -> None:
        nonlocal iterations
        iterations += 1

    solution, info = cg(system, y, x0=y.copy(), rtol=rtol, atol=0.0, maxiter=maxiter, callback=count)
    if info != 0:
        residual = np.linalg.norm(system @ solution - y) / max(np.linalg.norm(y), np.finfo(float).tiny)
        raise RuntimeError(f"conjugate gradients did not converge in {iterations} iterations (maxiter={maxiter}, "
                           f"info={info}): relative residual {residual:.3g} > rtol={rtol:g}")
    return solution


def dirichlet_energy(laplacian: sp.spmatrix, y: np.ndarray) -> float:
    """y^T L y (for the combinatorial L: the sum over edges of w_ij (y_i - y_j)^2)."""
    y = _check_system(laplacian, y)
    return float(y @ (laplacian @ y))


@dataclass
class SmoothingResult:
    """The output of `graph_smooth`: node tokens (N, L), their unsmoothed labels Y and smoothed labels
    Y_hat (float64, (N,)), the k of the kNN graph, the number of undirected edges and the seconds spent
    in each stage (augment, predict, knn, adjacency, laplacian, solve)."""

    tokens: torch.Tensor
    labels: np.ndarray
    smoothed: np.ndarray
    k: int
    num_edges: int
    seconds: dict[str, float] = field(default_factory=dict)


def graph_smooth(train_tokens: torch.Tensor, predict: Callable[[torch.Tensor], torch.Tensor], *, num_nodes: int,
                 gamma: float = 1.0, k: int | None = None, metric: str = "hamming", weights: str = "inverse",
                 laplacian_kind: str = "normalized", augmentation: str = "code", generator: torch.Generator,
                 device: str | torch.device = "cpu", num_states: int = 20) -> SmoothingResult:
    """Graph-based smoothing (spec 2.4): augment the training tokens to `num_nodes` nodes, label every
    node with `predict(tokens) -> (N,)`, build the kNN graph (k = default_k(N) when None), its
    adjacency and Laplacian, and solve (I + gamma L) Y_hat = Y. Arguments are checked before any
    stage runs."""
    gamma = check_number("gamma", gamma, 0)
    num_nodes = check_int("num_nodes", num_nodes, 2)
    check_int("k", k, 1, num_nodes - 1, allow_none=True)
    check_choice("metric", metric, METRICS)
    check_choice("weights", weights, WEIGHTS)
    check_choice("laplacian_kind", laplacian_kind, LAPLACIANS)
    check_choice("augmentation", augmentation, MODES)
    if not callable(predict):
        raise ValueError(f"predict must be a callable mapping tokens (N, L) to predictions (N,), got {predict!r}")
    seconds: dict[str, float] = {}

    def timed(stage: str, fn: Callable, *args, **kwargs):
        started = time.perf_counter()
        out = fn(*args, **kwargs)
        seconds[stage] = time.perf_counter() - started
        return out

    tokens = timed("augment", augment_nodes, train_tokens, num_nodes, num_states=num_states, mode=augmentation,
                   generator=generator)
    num_found = len(tokens)
    labels = timed("predict", lambda: np.asarray(torch.as_tensor(predict(tokens)).detach().cpu(),
                                                 dtype=np.float64).reshape(-1))
    if labels.shape != (num_found,):
        raise ValueError(f"predict must return one value per node ({num_found},), got shape {labels.shape}")
    k = default_k(num_found) if k is None else min(k, num_found - 1)
    rows, cols, distances = timed("knn", knn_graph, tokens, k, metric=metric, device=device)
    weights_matrix = timed("adjacency", adjacency, rows, cols, distances, num_found, weights=weights)
    laplacian_matrix = timed("laplacian", laplacian, weights_matrix, laplacian_kind)
    smoothed = timed("solve", smooth_labels, laplacian_matrix, labels, gamma)
    return SmoothingResult(tokens=tokens, labels=labels, smoothed=smoothed, k=k,
                           num_edges=weights_matrix.nnz // 2, seconds=seconds)
