"""Lorenz-63 trajectories: the DSA test systems of docs/papers/dsa.md 6-7 (noise robustness, rho regimes).

    dx/dt = s (y - x),   dy/dt = x (rho - z) - y,   dz/dt = x y - b z     (s = 10, b = 8/3)

integrated with scipy's `solve_ivp` (RK45, rtol = atol = `tolerance`) from seeded random initial conditions,
sampled every `dt` after a burn-in, each coordinate z-scored, then optional observation noise of
standard deviation `noise` (in z-score units). Pure numpy/scipy functions; no DataModule.

Below the Hopf point (rho < 24.74, e.g. the regime rho = 10) trajectories spiral into a stable fixed
point and after the burn-in only a small decaying oscillation is left, which z-scoring blows up: the
integration tolerance must sit well below it. With the default 1e-8 the five regimes cluster
(silhouette 0.99 with DSA, tests/test_dsa_lorenz.py); with 1e-6 the rho = 10 clips are dominated by
integration error and lose their cluster (silhouette 0.70).
"""

from __future__ import annotations

import numpy as np

from neurobolts.plugins.checks import check_number, check_positive, check_positive_int

__all__ = ["LORENZ_REGIME_RHOS", "lorenz_regimes", "lorenz_trajectories", "lorenz_trajectory"]

# the five rho regimes of the DSA author's KoopSTD comparison (docs/papers/dsa.md 4 and 6)
LORENZ_REGIME_RHOS = (10.0, 20.0, 152.0, 220.0, 75.0)


def lorenz_trajectories(n_trajectories: int = 1, steps: int = 2000, dt: float = 0.01, rho: float = 28.0,
                        sigma: float = 10.0, beta: float = 8.0 / 3.0, burn_in: float = 10.0, noise: float = 0.0,
                        zscore: bool = True, seed: int = 0, tolerance: float = 1e-8) -> np.ndarray:
    """(n_trajectories, steps, 3) Lorenz-63 samples every `dt` time units after `burn_in` time units.

    Each trajectory starts from its own initial condition, N(0, 1) + (1, 1, 1) drawn with `seed`; all are
    integrated together as one vectorised ODE. Each trajectory's coordinates are z-scored separately;
    the observation noise (if `noise` > 0) is added after, from the same generator.
    """
    from scipy.integrate import solve_ivp

    check_positive_int("n_trajectories", n_trajectories)
    check_positive_int("steps", steps)
    for name, value in (("dt", dt), ("rho", rho), ("sigma", sigma), ("beta", beta), ("tolerance", tolerance)):
        check_positive(name, value)
    check_number("burn_in", burn_in, 0, finite=False, expected="a number >= 0 (time units)")
    check_number("noise", noise, 0, finite=False)
    rng = np.random.default_rng(seed)

    def field(_t, state):
        x, y, z = state.reshape(3, n_trajectories)
        return np.concatenate([sigma * (y - x), x * (rho - z) - y, x * y - beta * z])

    times = burn_in + dt * np.arange(steps)
    start = (rng.standard_normal((n_trajectories, 3)) + 1.0).T.ravel()
    solution = solve_ivp(field, (0.0, float(times[-1])), start, t_eval=times, method="RK45",
                         rtol=tolerance, atol=tolerance)
    if not solution.success:
        raise RuntimeError(f"Lorenz integration failed (rho={rho}): {solution.message}")
    trajectories = solution.y.reshape(3, n_trajectories, steps).transpose(1, 2, 0)
    if zscore:
        trajectories = (trajectories - trajectories.mean(axis=1, keepdims=True)) / trajectories.std(axis=1, keepdims=True)
    if noise > 0:
        trajectories = trajectories + noise * rng.standard_normal(trajectories.shape)
    return trajectories


def lorenz_trajectory(steps: int = 2000, dt: float = 0.01, rho: float = 28.0, burn_in: float = 10.0,
                      noise: float = 0.0, zscore: bool = True, seed: int = 0) -> np.ndarray:
    """(steps, 3): one trajectory of `lorenz_trajectories` (sigma = 10, beta = 8/3)."""
    return lorenz_trajectories(1, steps, dt, rho, burn_in=burn_in, noise=noise, zscore=zscore, seed=seed)[0]


def lorenz_regimes(rhos=LORENZ_REGIME_RHOS, n_clips: int = 20, steps: int = 2000, dt: float = 0.01,
                   burn_in: float = 10.0, seed: int = 0, tolerance: float = 1e-8) -> tuple[list[np.ndarray], np.ndarray]:
    """`n_clips` z-scored trajectories per rho (each from its own initial condition): (systems, labels),
    labels[i] = index of the rho of systems[i]."""
    check_positive_int("n_clips", n_clips)
    if len(rhos) < 1:
        raise ValueError(f"rhos must hold at least one value, got {rhos!r}")
    systems, labels = [], []
    for label, rho in enumerate(rhos):
        clips = lorenz_trajectories(n_clips, steps, dt, rho=float(rho), burn_in=burn_in,
                                    seed=seed * 1_000_003 + label, tolerance=tolerance)
        systems += list(clips)
        labels += [label] * n_clips
    return systems, np.asarray(labels)
