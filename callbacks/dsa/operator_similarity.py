"""Comparing two linear operators up to a change of basis: the scoring half of DSA (docs/papers/dsa.md 2.5-2.6).

- `angular` / `euclidean`: Procrustes analysis over vector fields on the orthogonal group O(n),
  min over C of || A/|A| - C (B/|B|) C^T ||_F. Euclidean is that residual, in [0, 2]; angular the
  angle between A/|A| and C B C^T/|B|, in [0, pi] (computed as 2 asin(residual / 2), which equals the
  reference's arccos form and stays accurate near 0).
- `wasserstein`: exact optimal transport between the eigenvalue sets of the unnormalised operators,
  squared Euclidean cost in the complex plane, uniform weights, the smaller set padded with zeros
  (W2 squared, as the reference `dsa-metric` defines it). Invariant to any similarity transform.

The O(n) problem has no closed form. Unlike the reference (Adam through a Cayley-MLP from a random
point), every pair is solved from several starts at once -- the identity and a reflection, starts
aligned by the eigenvectors of symmetric equivariant matrices (A + A^T, A^T A, A A^T, ...) with their
signs chosen by a sign search, and seeded random rotations and reflections -- refined by Riemannian
gradient ascent on O(n) (Cayley retraction, Barzilai-Borwein steps, non-monotone line search). All
pairs and starts are one batch of small matrices (CPU with one thread, or any torch device). The pair
is put in a canonical order before solving, so d(A, B) == d(B, A) exactly, and the random starts come
from `seed` alone, so a result does not depend on the batch it was computed in.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from neurobolts.plugins.checks import check_choice

SCORE_METHODS = ("angular", "euclidean", "wasserstein")
SMALL_MATRIX = 64  # up to this size, CPU work runs on one thread (more only adds overhead)


def check_score_method(score_method: str) -> None:
    check_choice("score_method", score_method, SCORE_METHODS)


@contextlib.contextmanager
def bounded_threads(device, size: int, limit_size: int = SMALL_MATRIX):
    """One torch and BLAS thread on CPU while `size` <= `limit_size` (small work: more threads only add
    overhead, and on a busy CPU oversubscription makes a 2000 x 100 SVD forty times slower)."""
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    limit = torch.device(device).type == "cpu" and size <= limit_size
    if not limit:
        yield
        return
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(previous)


# ----------------------------------------------------------------------------------- wasserstein
def wasserstein_eigenvalue_distance(eigenvalues_a, eigenvalues_b) -> float:
    """Squared 2-Wasserstein distance between two eigenvalue sets (points of the complex plane).

    Uniform weights; the smaller set is padded with 0+0j; solved exactly as an assignment problem.
    """
    from scipy.optimize import linear_sum_assignment

    a = np.asarray(eigenvalues_a.cpu() if isinstance(eigenvalues_a, torch.Tensor) else eigenvalues_a)
    b = np.asarray(eigenvalues_b.cpu() if isinstance(eigenvalues_b, torch.Tensor) else eigenvalues_b)
    a, b = a.astype(np.complex128).ravel(), b.astype(np.complex128).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError(f"eigenvalue sets must be non-empty, got sizes {a.size} and {b.size}")
    n = max(a.size, b.size)
    a = np.concatenate([a, np.zeros(n - a.size, np.complex128)])
    b = np.concatenate([b, np.zeros(n - b.size, np.complex128)])
    cost = np.abs(a[:, None] - b[None, :]) ** 2
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].sum() / n)


# ------------------------------------------------------------------------ procrustes over O(n)
def _normalise(A: torch.Tensor, name: str) -> torch.Tensor:
    norm = torch.linalg.matrix_norm(A)
    if bool((norm == 0).any()):
        raise ValueError(f"{name} has a zero operator: nothing to compare (constant or empty dynamics)")
    return A / norm[..., None, None]


def random_orthogonal(n: int, count: int, seed: int, dtype=torch.float64, device="cpu") -> torch.Tensor:
    """(count, n, n) Haar-random orthogonal matrices from `seed` (CPU generator, so the same on every
    device); odd-numbered ones are reflections (det -1)."""
    generator = torch.Generator().manual_seed(int(seed))
    gaussian = torch.randn(count, n, n, generator=generator, dtype=torch.float64)
    Q, R = torch.linalg.qr(gaussian)
    Q = Q * torch.sign(torch.diagonal(R, dim1=-2, dim2=-1))[:, None, :]
    det = torch.linalg.det(Q)
    want = torch.tensor([1.0 if k % 2 == 0 else -1.0 for k in range(count)], dtype=torch.float64)
    Q[:, :, 0] *= (det * want).sign()[:, None]
    return Q.to(device=device, dtype=dtype)


# The solver below is written once for two array backends: numpy on the CPU (a few microseconds per
# small-matrix operation, where torch's dispatch costs tens) and torch on any other device (GPU
# batches). Only operations that numpy and torch spell the same way are used.
def _xp(array):
    return np if isinstance(array, np.ndarray) else torch


def _eye(n: int, like):
    return np.eye(n) if isinstance(like, np.ndarray) else torch.eye(n, dtype=like.dtype, device=like.device)


def _arange(n: int, like):
    return np.arange(n) if isinstance(like, np.ndarray) else torch.arange(n, device=like.device)


def _copy(array):
    return array.copy() if isinstance(array, np.ndarray) else array.clone()


def _fro(X):
    return ((X * X).sum(axis=(-2, -1))) ** 0.5


def _best_signs(W):
    """Signs d in {-1, 1}^n (batched) that (locally) maximise d^T W d for symmetric W with zero diagonal:
    the sign pattern of the leading eigenvector, then single flips while any increases the form."""
    xp, n = _xp(W), W.shape[-1]
    d = xp.sign(xp.linalg.eigh(W)[1][..., -1])
    d = xp.where(d == 0, 1.0, d)
    positions = _arange(n, W)
    for _ in range(4 * n):
        gain = -4 * d * (W @ d[..., None])[..., 0]
        chosen = positions[None, :] == gain.argmax(-1)[:, None]
        improve = xp.where(chosen, gain, 0.0).sum(axis=-1) > 1e-14
        if not bool(improve.any()):
            break
        d = xp.where(chosen & improve[:, None], -d, d)
    return d


def _equivariant_maps(A) -> list:
    """Symmetric matrices S(A) with S(Q A Q^T) = Q S(A) Q^T for orthogonal Q."""
    sym, gram_left, gram_right = A + A.mT, A.mT @ A, A @ A.mT
    return [sym, gram_left, gram_right, sym + 0.7548776662 * gram_left + 0.5698402910 * gram_right]


def _aligned_starts(A, B) -> list:
    """Starts C = P_A D P_B^T, each (P, n, n), from the eigenvectors of equivariant symmetric matrices;
    for B = Q^T A Q with a non-degenerate spectrum one of them is exactly Q up to the signs D, which the
    sign search recovers."""
    xp = _xp(A)
    off_diagonal = 1 - _eye(A.shape[-1], A)
    starts = []
    for Ma, Mb in zip(_equivariant_maps(A), _equivariant_maps(B), strict=True):
        Pa, Pb = xp.linalg.eigh(Ma)[1], xp.linalg.eigh(Mb)[1]
        W = (Pa.mT @ A @ Pa) * (Pb.mT @ B @ Pb)
        d = _best_signs((W + W.mT) / 2 * off_diagonal)
        starts.append((Pa * d[:, None, :]) @ Pb.mT)
    return starts


def _objective(A, B, C):
    """g(C) = <A, C B C^T> and its Riemannian gradient in the Lie algebra (C(t) = C exp(t Omega))."""
    CB = C @ B
    value = (A * (CB @ C.mT)).sum(axis=(-2, -1))
    X = C.mT @ (A @ (C @ B.mT) + A.mT @ CB)
    return value, (X - X.mT) / 2


def _cayley(X):
    eye = _eye(X.shape[-1], X)
    return _xp(X).linalg.solve(eye - X / 2, eye + X / 2)


def _refine(A, B, C, max_iter: int, tol: float):
    """Maximise <A, C B C^T> over O(n) from each start in C (batched). Returns (best C, best value).

    Riemannian gradient ascent with Cayley retraction, alternating Barzilai-Borwein steps and a
    Zhang-Hager non-monotone line search. A start is finished when its gradient norm drops below `tol`
    or its step collapses; finished starts leave the working batch.
    """
    xp = _xp(A)
    best_C = _copy(C)
    value, omega = _objective(A, B, C)
    best_value = _copy(value)
    ids = _arange(C.shape[0], C)
    work_C, work_best_C, work_best = C, _copy(C), _copy(value)
    step = value * 0 + 0.5
    reference, weight = _copy(value), value * 0 + 1
    for iteration in range(max_iter + 1):
        active = (_fro(omega) > tol) & (step > 1e-12)
        if iteration == max_iter:
            active = active & False
        if not bool(active.all()):
            done = ~active
            best_C[ids[done]] = work_best_C[done]
            best_value[ids[done]] = work_best[done]
            if not bool(active.any()):
                break
            ids, A, B, work_C, work_best_C, work_best = (ids[active], A[active], B[active], work_C[active],
                                                         work_best_C[active], work_best[active])
            value, omega, step, reference, weight = (value[active], omega[active], step[active],
                                                     reference[active], weight[active])
        move = step[:, None, None] * omega
        candidate = work_C @ _cayley(move)
        new_value, new_omega = _objective(A, B, candidate)
        accept = new_value >= reference + 1e-4 * step * (omega * omega).sum(axis=(-2, -1))
        y = omega - new_omega
        sy, ss, yy = (move * y).sum(axis=(-2, -1)), (move * move).sum(axis=(-2, -1)), (y * y).sum(axis=(-2, -1))
        bb = ss / xp.where(sy > 0, sy, 1.0) if iteration % 2 == 0 else sy / xp.where(yy > 0, yy, 1.0)
        bb = xp.clip(xp.where(sy > 0, bb, 2 * step), 1e-6, 1e6)
        step = xp.where(accept, bb, 0.2 * step)
        keep = accept[:, None, None]
        work_C = xp.where(keep, candidate, work_C)
        omega = xp.where(keep, new_omega, omega)
        value = xp.where(accept, new_value, value)
        new_weight = 0.85 * weight + 1
        reference = xp.where(accept, (0.85 * weight * reference + new_value) / new_weight, reference)
        weight = xp.where(accept, new_weight, weight)
        better = accept & (new_value > work_best)
        work_best = xp.where(better, new_value, work_best)
        work_best_C = xp.where(better[:, None, None], candidate, work_best_C)
    return best_C, best_value


def _repeat_pairs(X, k: int):
    """(P, n, n) -> (P * k, n, n), each pair repeated k times consecutively."""
    n = X.shape[-1]
    repeated = np.repeat(X[:, None], k, axis=1) if isinstance(X, np.ndarray) else X[:, None].expand(-1, k, -1, -1)
    return repeated.reshape(X.shape[0] * k, n, n)


def align_operators(A: torch.Tensor, B: torch.Tensor, seed: int = 0, n_random_starts: int = 4,
                    screen_iter: int = 100, n_finalists: int = 3, max_iter: int = 2000, tol: float = 1e-9,
                    use_numpy: bool | None = None):
    """Batched O(n) alignment of normalised float64 operators A, B of shape (P, n, n).

    Every start runs `screen_iter` iterations; the `n_finalists` best starts of each pair then run to
    convergence (numpy on the CPU, torch elsewhere; `use_numpy=False` forces torch). Returns
    (C (P, n, n) orthogonal, residual (P,) = ||A - C B C^T||_F) as tensors on A's device.
    """
    P, n = A.shape[0], A.shape[-1]
    on_cpu = A.device.type == "cpu" if use_numpy is None else bool(use_numpy)
    a, b = (A.numpy(), B.numpy()) if on_cpu else (A, B)
    eye = _eye(n, a)
    reflection = _copy(eye)
    reflection[0, 0] = -1
    fixed = [eye, reflection]
    if n_random_starts > 0:
        randoms = random_orthogonal(n, n_random_starts, seed, A.dtype, A.device)
        fixed += list(randoms.numpy() if on_cpu else randoms)
    starts = [s[None] + 0 * a for s in fixed] + _aligned_starts(a, b)  # K starts, each (P, n, n)
    K = len(starts)
    stacked = np.stack(starts, axis=1) if on_cpu else torch.stack(starts, dim=1)
    a_rep, b_rep = _repeat_pairs(a, K), _repeat_pairs(b, K)
    C, value = _refine(a_rep, b_rep, stacked.reshape(P * K, n, n), screen_iter, tol)
    # The result is chosen by its residual ||A - C B C^T||, not by g = <A, C B C^T>: near the optimum g
    # is flat to second order, so two starts whose g differ only in the last bit can differ by ~1e-8 in
    # C (and in the residual); the residual tells them apart (e.g. the identity start on A == B gives 0).
    residual = _fro(a_rep - C @ b_rep @ C.mT).reshape(P, K)
    finalists = min(n_finalists, K)
    order = (np.argsort(-value.reshape(P, K), axis=1, kind="stable") if on_cpu
             else torch.argsort(-value.reshape(P, K), dim=1, stable=True))[:, :finalists]
    rows = _arange(P, a)[:, None]
    best = residual.argmin(1)
    best_C = _copy(C.reshape(P, K, n, n)[rows[:, 0], best])
    best_residual = _copy(residual[rows[:, 0], best])
    # g <= |A| |B| = 1: a pair whose best start already reaches 1 is solved (e.g. an exact rotation)
    open_pairs = (value.reshape(P, K) < 1 - 1e-13).all(1)
    if bool(open_pairs.any()):
        rows, order, p = rows[open_pairs], order[open_pairs], int(open_pairs.sum())
        C = _copy(C.reshape(P, K, n, n)[rows, order].reshape(p * finalists, n, n))
        a_fin, b_fin = _repeat_pairs(a[open_pairs], finalists), _repeat_pairs(b[open_pairs], finalists)
        C, _ = _refine(a_fin, b_fin, C, max_iter, tol)
        final_residual = _fro(a_fin - C @ b_fin @ C.mT).reshape(p, finalists)
        pick = final_residual.argmin(1)
        chosen_C = C.reshape(p, finalists, n, n)[_arange(p, a), pick]
        chosen_residual = final_residual[_arange(p, a), pick]
        improves = chosen_residual < best_residual[open_pairs]
        best_C[open_pairs] = _xp(a).where(improves[:, None, None], chosen_C, best_C[open_pairs])
        best_residual[open_pairs] = _xp(a).where(improves, chosen_residual, best_residual[open_pairs])
    if on_cpu:
        return torch.from_numpy(best_C), torch.from_numpy(np.asarray(best_residual))
    return best_C, best_residual


def _precedes(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Lexicographic order of the flattened entries (a total order for a canonical pair order)."""
    diff = (a - b).flatten()
    nonzero = torch.nonzero(diff)
    return True if nonzero.numel() == 0 else bool(diff[nonzero[0, 0]] < 0)


def _ordered(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether (a, b) is the canonical order of a pair: smaller size first, then lexicographic."""
    if a.shape != b.shape:
        return a.shape[-1] < b.shape[-1]
    return _precedes(a, b)


def _as_operator(op, device) -> torch.Tensor:
    op = getattr(op, "A", op)  # a DMDFit gives its operator
    if isinstance(op, np.ndarray):
        op = torch.from_numpy(op)
    if not isinstance(op, torch.Tensor):
        raise ValueError(f"an operator must be a square array, tensor or DMDFit, got {type(op).__name__}")
    return op.detach().to(device=device, dtype=torch.float64)


def _pad(A: torch.Tensor, n: int) -> torch.Tensor:
    if A.shape[-1] == n:
        return A
    out = torch.zeros(n, n, dtype=A.dtype, device=A.device)
    out[: A.shape[0], : A.shape[1]] = A
    return out


def _scores_from_residual(residual: torch.Tensor, score_method: str) -> torch.Tensor:
    if score_method == "euclidean":
        return residual
    return 2 * torch.asin((residual / 2).clamp(0, 1))


def pairwise_operator_distances(
    operators_x: list[torch.Tensor],
    operators_y: list[torch.Tensor] | None = None,
    score_method: str = "angular",
    seed: int = 0,
    n_random_starts: int = 4,
    max_iter: int = 1000,
    zero_pad: bool = False,
    device="cpu",
    chunk_size: int = 256,
) -> np.ndarray:
    """Distances between square operators: (len(x), len(y)), or symmetric (len(x), len(x)) with a zero
    diagonal when `operators_y` is None (each unordered pair is solved once).

    Operators of different sizes raise a ValueError unless `zero_pad` (pad with zero rows/columns).
    """
    check_score_method(score_method)
    xs = [_as_operator(a, device) for a in operators_x]
    ys = xs if operators_y is None else [_as_operator(b, device) for b in operators_y]
    for name, ops in (("operators_x", xs), ("operators_y", ys)):
        for i, a in enumerate(ops):
            if a.ndim != 2 or a.shape[0] != a.shape[1]:
                raise ValueError(f"{name}[{i}] must be a square matrix, got shape {tuple(a.shape)}")
            if not bool(torch.isfinite(a).all()):
                raise ValueError(f"{name}[{i}] contains NaN or infinite values")
    symmetric = operators_y is None
    pairs = [(i, j) for i in range(len(xs)) for j in range(len(ys)) if not symmetric or j > i]
    out = np.zeros((len(xs), len(ys)))
    if score_method == "wasserstein":
        eig_x = [torch.linalg.eigvals(a).cpu().numpy() for a in xs]
        eig_y = eig_x if symmetric else [torch.linalg.eigvals(b).cpu().numpy() for b in ys]
        for i, j in pairs:
            first, second = (eig_x[i], eig_y[j]) if _ordered(xs[i], ys[j]) else (eig_y[j], eig_x[i])
            out[i, j] = wasserstein_eigenvalue_distance(first, second)
    else:
        sizes = sorted({a.shape[0] for a in xs} | {b.shape[0] for b in ys})
        if len(sizes) > 1 and not zero_pad:
            raise ValueError(
                f"operators have different sizes {sizes}: fix `rank` so that every system has the same rank, "
                f"or pass zero_pad=True (or use score_method='wasserstein')"
            )
        n = sizes[-1]
        nx = [_normalise(_pad(a, n), f"operators_x[{i}]") for i, a in enumerate(xs)]
        ny = nx if symmetric else [_normalise(_pad(b, n), f"operators_y[{j}]") for j, b in enumerate(ys)]
        with bounded_threads(device, n):
            for start in range(0, len(pairs), chunk_size):
                chunk = pairs[start : start + chunk_size]
                ordered = [(nx[i], ny[j]) if _precedes(nx[i], ny[j]) else (ny[j], nx[i]) for i, j in chunk]
                A = torch.stack([p[0] for p in ordered])
                B = torch.stack([p[1] for p in ordered])
                _, residual = align_operators(A, B, seed, n_random_starts, max_iter=max_iter)
                scores = _scores_from_residual(residual, score_method).cpu().numpy()
                for (i, j), score in zip(chunk, scores, strict=True):
                    out[i, j] = score
    if symmetric:
        out = out + out.T
    return out


def operator_distance(A, B, score_method: str = "angular", seed: int = 0, n_random_starts: int = 4,
                      max_iter: int = 1000, zero_pad: bool = False, device="cpu") -> float:
    """Distance between two square operators (see the module docstring). Inputs are not modified."""
    return float(pairwise_operator_distances([A], [B], score_method, seed, n_random_starts, max_iter,
                                             zero_pad, device)[0, 0])


def optimal_rotation(A, B, seed: int = 0, n_random_starts: int = 4, max_iter: int = 1000, device="cpu"):
    """(C, residual): the orthogonal C minimising ||A/|A| - C (B/|B|) C^T||_F, for same-size operators."""
    a = _normalise(_as_operator(A, device), "A")
    b = _normalise(_as_operator(B, device), "B")
    if a.shape != b.shape:
        raise ValueError(f"A and B must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    with bounded_threads(device, a.shape[-1]):
        if _precedes(a, b):
            C, residual = align_operators(a[None], b[None], seed, n_random_starts, max_iter=max_iter)
            return C[0], float(residual[0])
        C, residual = align_operators(b[None], a[None], seed, n_random_starts, max_iter=max_iter)
        return C[0].mT.contiguous(), float(residual[0])
