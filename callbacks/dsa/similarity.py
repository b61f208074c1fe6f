"""Dynamical Similarity Analysis (Ostrow, Eisen, Kozachkov, Fiete, NeurIPS 2023; spec docs/papers/dsa.md).

`dsa(X, Y, ...)` delay-embeds each system, fits its DMD operator in delay-PC coordinates
(`neurobolts.callbacks.dsa.delay_dmd`) and compares the operators up to an orthogonal change of basis or by
their spectra (`neurobolts.callbacks.dsa.operator_similarity`). Argument names mirror the reference package
`dsa-metric` (import `DSA`), whose conventions it follows, so one can be checked against the other.

Comparison modes (chosen by the Python types, as in the reference):

| X                | Y                | result                                         |
|------------------|------------------|------------------------------------------------|
| system           | system           | float                                          |
| list of systems  | None             | symmetric (n, n) matrix, zero diagonal         |
| list of systems  | list of systems  | (n, m) matrix                                  |
| list of systems  | system           | (n,) vector                                    |
| system           | list of systems  | (m,) vector                                    |

A system is an array (numpy or torch) of shape (time, neurons) or (trials, time, neurons), or a
*tuple* of such arrays with different lengths (ragged trials). A *list* always means several systems.
"""

from __future__ import annotations

from neurobolts.callbacks.dsa.delay_dmd import DMDFit, fit_dmd
from neurobolts.callbacks.dsa.operator_similarity import check_score_method, pairwise_operator_distances

__all__ = ["dsa", "fit_systems"]


def fit_systems(systems: list, name: str, **fit_kwargs) -> list[DMDFit]:
    """Fit the DMD of each system of a list (errors name the system, e.g. X[2])."""
    if len(systems) == 0:
        raise ValueError(f"{name} is an empty list; expected at least one system")
    return [fit_dmd(system, name=f"{name}[{i}]", **fit_kwargs) for i, system in enumerate(systems)]


def dsa(
    X,
    Y=None,
    *,
    n_delays: int = 1,
    delay_interval: int = 1,
    rank=None,
    rank_thresh: float | None = None,
    rank_explained_variance: float | None = None,
    lamb: float = 1e-8,
    reduced_rank_reg: bool = False,
    steps_ahead: int = 1,
    score_method: str = "angular",
    seed: int = 0,
    device="cpu",
    n_random_starts: int = 4,
    max_iter: int = 1000,
    zero_pad: bool = False,
):
    """DSA dissimilarity between systems (see the module docstring for the modes).

    Args:
        n_delays, delay_interval: delay embedding (d, tau); d = 1 uses the raw data.
        rank / rank_thresh / rank_explained_variance: at most one rank rule; rank may be an integer
            or "svht" (optimal hard threshold, Gavish & Donoho); none = full rank. Capped at N*d.
        lamb: ridge lambda of the DMD regression (the reference's 1e-8).
        reduced_rank_reg: reduced-rank regression instead of principal-component regression.
        steps_ahead: fit v_{t+s} ~ A v_t with s = steps_ahead.
        score_method: "angular" (radians, [0, pi]; the paper's default), "euclidean" ([0, 2]) or
            "wasserstein" (squared W2 between eigenvalues, the reference's 2.0.1+ default).
        seed: seeds the random starts of the O(n) optimisation; results are deterministic and symmetric.
        device: torch device for fitting and comparing.
        n_random_starts, max_iter: O(n) optimisation effort (besides the informed starts).
        zero_pad: pad operators of different ranks with zeros instead of raising.
    """
    check_score_method(score_method)
    fit_kwargs = dict(n_delays=n_delays, delay_interval=delay_interval, rank=rank, rank_thresh=rank_thresh,
                      rank_explained_variance=rank_explained_variance, lamb=lamb,
                      reduced_rank_reg=reduced_rank_reg, steps_ahead=steps_ahead, device=device)
    x_is_list, y_is_list = isinstance(X, list), isinstance(Y, list)
    if Y is None and not x_is_list:
        raise ValueError("Y is None but X is a single system: pass Y, or a list of systems as X for the "
                         "self-pairwise matrix")
    fits_x = fit_systems(X, "X", **fit_kwargs) if x_is_list else [fit_dmd(X, name="X", **fit_kwargs)]
    compare = dict(score_method=score_method, seed=seed, n_random_starts=n_random_starts, max_iter=max_iter,
                   zero_pad=zero_pad, device=device)
    if Y is None:
        return pairwise_operator_distances(fits_x, None, **compare)
    fits_y = fit_systems(Y, "Y", **fit_kwargs) if y_is_list else [fit_dmd(Y, name="Y", **fit_kwargs)]
    distances = pairwise_operator_distances(fits_x, fits_y, **compare)
    if x_is_list and y_is_list:
        return distances
    if x_is_list:
        return distances[:, 0]
    if y_is_list:
        return distances[0, :]
    return float(distances[0, 0])
