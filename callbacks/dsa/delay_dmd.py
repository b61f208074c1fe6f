"""Delay (Hankel) embedding and DMD in delay-PC coordinates: the fitting half of DSA (docs/papers/dsa.md 2.1-2.4).

A system is an array of shape (time, neurons) or (trials, time, neurons), numpy or torch, or a list /
tuple of such arrays with different lengths (ragged trials; the neuron count must match). Trials are
embedded separately: no regression pair crosses a trial boundary.

Conventions follow the reference package `dsa-metric` so that results can be checked one against the
other: row i of the Hankel matrix is [x_{i+(d-1)tau}, ..., x_{i+tau}, x_i] (block 0 is the most recent
sample); the SVD H = V S U^T (the reference's SVD of H^T); the operator is fitted on the first r
columns of V (principal-component regression), v_{t+s} ~ A v_t. Better than the reference: the signs of
the singular vectors are canonicalised (largest-magnitude entry of each column of V positive), so a
system and any rotation / reflection of its neurons get the same V and hence the same operator.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from neurobolts.callbacks.dsa.operator_similarity import bounded_threads
from neurobolts.plugins.checks import check_fraction, check_int, check_number, check_positive_int

RANK_RULES = ("rank", "rank_thresh", "rank_explained_variance")
SMALL_HANKEL = 4_000_000  # entries; up to this size the fit runs on one CPU thread
AUTOMATIC_RANK = "svht"


def _to_tensor(data, name: str, device, dtype) -> torch.Tensor:
    if isinstance(data, torch.Tensor):
        tensor = data.detach()
    elif isinstance(data, np.ndarray):
        tensor = torch.from_numpy(data)
    else:
        raise ValueError(
            f"{name} must be a numpy array or torch tensor of shape (time, neurons) or (trials, time, neurons), "
            f"got {type(data).__name__}"
        )
    if tensor.is_complex() or tensor.dtype == torch.bool:
        raise ValueError(f"{name} must hold real numbers, got dtype {tensor.dtype}")
    return tensor.to(device=device, dtype=dtype)


def as_trials(data, name: str = "X", device="cpu", dtype=torch.float64) -> list[torch.Tensor]:
    """A system as a list of (T_k, N) tensors on `device` (new or read-only views: never modified).

    Raises ValueError naming `name` for a wrong type or rank, NaN/inf, an empty list or trials with
    different neuron counts.
    """
    if isinstance(data, (list, tuple)):
        if len(data) == 0:
            raise ValueError(f"{name} is an empty {type(data).__name__}; expected arrays of shape (time, neurons)")
        trials = []
        for i, item in enumerate(data):
            if isinstance(item, (list, tuple)):
                raise ValueError(f"{name}[{i}] is a nested {type(item).__name__}; trials must be arrays")
            trials += as_trials(item, f"{name}[{i}]", device, dtype)
    else:
        tensor = _to_tensor(data, name, device, dtype)
        if tensor.ndim == 2:
            trials = [tensor]
        elif tensor.ndim == 3:
            trials = list(tensor.unbind(0))
        else:
            raise ValueError(
                f"{name} must have shape (time, neurons) or (trials, time, neurons), got shape {tuple(tensor.shape)}"
            )
        if tensor.numel() == 0:
            raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)})")
        if not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"{name} contains NaN or infinite values; expected finite numbers")
    neurons = sorted({int(t.shape[1]) for t in trials})
    if len(neurons) > 1:
        raise ValueError(
            f"{name}: every trial must have the same number of neurons (last dimension), got {neurons}"
        )
    return trials


def _hankel(trial: torch.Tensor, n_delays: int, delay_interval: int, name: str) -> torch.Tensor:
    """(T, N) -> (T', N*d) with T' = T - (d-1)*tau; row i = [x_{i+(d-1)tau}, ..., x_i]."""
    span = (n_delays - 1) * delay_interval
    length = trial.shape[0] - span
    if length < 1:
        raise ValueError(
            f"{name}: a trial has T={trial.shape[0]} time steps, too few for n_delays={n_delays} and "
            f"delay_interval={delay_interval}; need T >= (n_delays-1)*delay_interval + 1 = {span + 1}"
        )
    lags = (n_delays - 1 - torch.arange(n_delays, device=trial.device)) * delay_interval
    index = torch.arange(length, device=trial.device)[:, None] + lags[None, :]
    return trial[index].reshape(length, n_delays * trial.shape[1])


def delay_embedding(data, n_delays: int = 1, delay_interval: int = 1, name: str = "X"):
    """Hankel matrix of a system: (T', N*d) for (T, N) input, (K, T', N*d) for (K, T, N), a list for a
    list/tuple of trials. Always a new float64 tensor."""
    check_positive_int("n_delays", n_delays)
    check_positive_int("delay_interval", delay_interval)
    trials = as_trials(data, name, device=data.device if isinstance(data, torch.Tensor) else "cpu")
    embedded = [_hankel(t, n_delays, delay_interval, name) for t in trials]
    if isinstance(data, (list, tuple)):
        return embedded
    return embedded[0] if data.ndim == 2 else torch.stack(embedded)


@functools.lru_cache(maxsize=256)
def _marchenko_pastur_median(beta: float) -> float:
    from scipy.integrate import quad
    from scipy.optimize import brentq

    lo, hi = (1 - math.sqrt(beta)) ** 2, (1 + math.sqrt(beta)) ** 2

    def density(t: float) -> float:
        return math.sqrt(max((hi - t) * (t - lo), 0.0)) / (2 * math.pi * beta * t)

    return brentq(lambda x: quad(density, lo, x)[0] - 0.5, lo, hi, xtol=1e-12)


def optimal_hard_threshold_coefficient(beta: float) -> float:
    """omega(beta) of Gavish & Donoho (2014) for unknown noise: keep singular values above
    omega * median(S) for a matrix of aspect ratio beta = min(shape) / max(shape) in (0, 1]."""
    check_fraction("beta", beta, low_open=True)
    lam = math.sqrt(2 * (beta + 1) + 8 * beta / ((beta + 1) + math.sqrt(beta**2 + 14 * beta + 1)))
    return lam / math.sqrt(_marchenko_pastur_median(float(beta)))


def check_rank_options(rank, rank_thresh, rank_explained_variance) -> None:
    """At most one rule; each in range. `rank` is an integer >= 1 or "svht" (optimal hard threshold)."""
    given = [name for name, value in zip(RANK_RULES, (rank, rank_thresh, rank_explained_variance), strict=True)
             if value is not None]
    if len(given) > 1:
        raise ValueError(
            f"give at most one of rank, rank_thresh, rank_explained_variance (none = full rank), got {given}"
        )
    if rank != AUTOMATIC_RANK:
        check_int("rank", rank, 1, allow_none=True, expected=f"an integer >= 1, '{AUTOMATIC_RANK}'")
    check_number("rank_thresh", rank_thresh, 0, finite=False, allow_none=True)  # inf keeps one component
    check_fraction("rank_explained_variance", rank_explained_variance, low_open=True, allow_none=True)


def select_rank(spectrum: torch.Tensor, shape: tuple[int, int], rank=None, rank_thresh=None,
                rank_explained_variance=None) -> int:
    """Rank from a descending non-negative spectrum (singular values, or the reduced-rank eigenvalues).

    rank: min(rank, len); rank_thresh: how many values exceed it (>= 1); rank_explained_variance:
    smallest k whose cumulative share of sum(s^2) reaches it; "svht": the optimal hard threshold for a
    matrix of `shape`; none: full rank.
    """
    check_rank_options(rank, rank_thresh, rank_explained_variance)
    m = int(spectrum.numel())
    if rank == AUTOMATIC_RANK:
        beta = min(shape) / max(shape)
        threshold = optimal_hard_threshold_coefficient(beta) * float(spectrum.median())
        return max(1, int((spectrum > threshold).sum()))
    if rank is not None:
        return min(int(rank), m)
    if rank_thresh is not None:
        return max(1, int((spectrum > rank_thresh).sum()))
    if rank_explained_variance is not None:
        energy = spectrum.double() ** 2
        cumulative = torch.cumsum(energy, 0) / energy.sum()
        reached = torch.nonzero(cumulative >= rank_explained_variance - 1e-12)
        return min(m, int(reached[0]) + 1) if len(reached) else m
    return m


@dataclass
class DMDFit:
    """A fitted delay-DMD model.

    A: (r, r) operator in delay-PC coordinates, column convention v_{t+s} ~ A v_t (the reference's
        `A_v`; for reduced-rank regression (m, m) of rank r, transposed from the reference's row form).
    rank: r. singular_values: S of the Hankel matrix (descending). U: (N*d, m) neuron-space singular
        vectors; V: (rows, m) time singular vectors (sign-canonical). cumulative_explained_variance.
    """

    A: torch.Tensor
    rank: int
    singular_values: torch.Tensor
    U: torch.Tensor
    V: torch.Tensor
    cumulative_explained_variance: torch.Tensor
    n_neurons: int
    n_delays: int
    delay_interval: int

    def eigenvalues(self) -> torch.Tensor:
        return torch.linalg.eigvals(self.A)

    @property
    def A_full(self) -> torch.Tensor:
        """(N*d, N*d) operator mapping Hankel rows one step forward (the reference's A_havok_dmd)."""
        r = self.A.shape[0]
        scale = self.singular_values[:r]
        return self.U[:, :r] @ (scale[:, None] * self.A / scale[None, :]) @ self.U[:, :r].T


def _canonical_signs(V: torch.Tensor, U: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip each singular pair so that the largest-magnitude entry of V's column is positive."""
    rows = V.abs().argmax(dim=0)
    signs = torch.sign(V[rows, torch.arange(V.shape[1], device=V.device)])
    signs[signs == 0] = 1
    return V * signs, U * signs


def _regression_pairs(V: torch.Tensor, lengths: list[int], steps_ahead: int) -> tuple[torch.Tensor, torch.Tensor]:
    if len(set(lengths)) == 1:
        per_trial = V.reshape(len(lengths), lengths[0], V.shape[1])
        before, after = per_trial[:, :-steps_ahead], per_trial[:, steps_ahead:]
        return before.reshape(-1, V.shape[1]), after.reshape(-1, V.shape[1])
    before, after, start = [], [], 0
    for length in lengths:
        block = V[start : start + length]
        before.append(block[:-steps_ahead])
        after.append(block[steps_ahead:])
        start += length
    return torch.cat(before), torch.cat(after)


def fit_dmd(
    data,
    n_delays: int = 1,
    delay_interval: int = 1,
    rank=None,
    rank_thresh: float | None = None,
    rank_explained_variance: float | None = None,
    lamb: float = 1e-8,
    reduced_rank_reg: bool = False,
    steps_ahead: int = 1,
    device="cpu",
    name: str = "X",
) -> DMDFit:
    """Fit the delay-DMD operator of one system (float64 on `device`; the input is never modified).

    lamb: ridge lambda (the reference's `DMD` default 1e-8). reduced_rank_reg: reduced-rank regression
    over all m delay-PC coordinates (rank / rank_thresh / "svht" then apply to the eigenvalues of
    V+^T V- (V-^T V- + lamb I)^-1 V-^T V+, explained variance to the Hankel singular values, as in the
    reference). steps_ahead: s in v_{t+s} ~ A v_t.
    """
    check_positive_int("n_delays", n_delays)
    check_positive_int("delay_interval", delay_interval)
    check_rank_options(rank, rank_thresh, rank_explained_variance)
    check_positive_int("steps_ahead", steps_ahead)
    check_number("lamb", lamb, 0)  # inf would make the ridge term inf * 0 = nan
    trials = as_trials(data, name, device=device)
    hankels = [_hankel(t, n_delays, delay_interval, name) for t in trials]
    lengths = [int(h.shape[0]) for h in hankels]
    if all(length <= steps_ahead for length in lengths):
        raise ValueError(
            f"{name}: no trial is long enough for one regression pair: embedded lengths {sorted(set(lengths))} "
            f"must exceed steps_ahead={steps_ahead}"
        )
    H = torch.cat(hankels) if len(hankels) > 1 else hankels[0]
    with bounded_threads(H.device, H.numel(), limit_size=SMALL_HANKEL):
        return _fit_hankel(H, lengths, trials[0].shape[1], n_delays, delay_interval, rank, rank_thresh,
                           rank_explained_variance, lamb, reduced_rank_reg, steps_ahead, name)


def _fit_hankel(H, lengths, n_neurons, n_delays, delay_interval, rank, rank_thresh, rank_explained_variance,
                lamb, reduced_rank_reg, steps_ahead, name) -> DMDFit:
    V, S, Uh = torch.linalg.svd(H, full_matrices=False)
    V, U = _canonical_signs(V, Uh.T)
    energy = S**2
    cumulative = torch.cumsum(energy, 0) / energy.sum().clamp_min(torch.finfo(S.dtype).tiny)
    if float(S[0]) == 0.0:
        raise ValueError(f"{name} is constant zero after embedding: no dynamics to fit")
    before, after = _regression_pairs(V, lengths, steps_ahead)
    m = V.shape[1]
    eye = torch.eye(m, dtype=V.dtype, device=V.device)
    if reduced_rank_reg:
        ols = torch.linalg.solve(before.T @ before + lamb * eye, before.T @ after)  # row convention
        M = (after.T @ before) @ ols
        M = (M + M.T) / 2
        evals, evecs = torch.linalg.eigh(M)
        evals, evecs = evals.flip(0), evecs.flip(1)
        # as in the reference: thresholds apply to M's eigenvalues, explained variance to the Hankel SVD
        spectrum = S if rank_explained_variance is not None else evals.clamp_min(0)
        r = select_rank(spectrum, tuple(H.shape), rank, rank_thresh, rank_explained_variance)
        A = (ols @ evecs[:, :r] @ evecs[:, :r].T).T
    else:
        r = select_rank(S, tuple(H.shape), rank, rank_thresh, rank_explained_variance)
        Vm, Vp = before[:, :r], after[:, :r]
        A = torch.linalg.solve(Vm.T @ Vm + lamb * eye[:r, :r], Vm.T @ Vp).T
    return DMDFit(A=A, rank=r, singular_values=S, U=U, V=V, cumulative_explained_variance=cumulative,
                  n_neurons=int(n_neurons), n_delays=int(n_delays), delay_interval=int(delay_interval))
