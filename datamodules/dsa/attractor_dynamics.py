"""Saddle, line and point attractors with matched condition averages (DSA case 2; Galgali et al. 2023).

Per model (one triple of systems sharing parameters), two input conditions u = +/-`input_strength`,
trials start at the origin, Euler-Maruyama with step dt and noise sigma on both coordinates:

- saddle (bistable):  dx = (a x^3 + b x + u) dt + sigma dW,  a < 0 < b (saddle at 0, wells at +-sqrt(-b/a))
- line attractor:     dx = v(t) dt + sigma dW,               v(t) = d x_bar / dt
- point attractor:    dx = (-k x + v(t) + k x_bar(t)) dt + sigma dW
- all three:          dy = (c y + u) dt + sigma dW,          c < 0

where x_bar is the saddle's empirical condition average. The line and point attractors are linear, so
this feedback-linearised drive gives them exactly x_bar as their expected trajectory: the three kinds
have the same condition averages (up to sampling noise) and differ only in how single trials evolve.
"""

from __future__ import annotations

import math

import numpy as np

from neurobolts.plugins.checks import check_int, check_positive, check_positive_int

KINDS = ("saddle", "line", "point")


def validate_family_args(n_models, n_trials, steps, dt, noise, input_strength) -> None:
    check_positive_int("n_models", n_models)
    check_positive_int("n_trials", n_trials)
    check_int("steps", steps, 3)
    for name, value in (("dt", dt), ("noise", noise), ("input_strength", input_strength)):
        check_positive(name, value)


def attractor_family(n_models: int = 4, n_trials: int = 15, steps: int = 300, dt: float = 0.01,
                     noise: float = 0.05, input_strength: float = 0.1, seed: int = 0) -> dict[str, np.ndarray]:
    """Simulate `n_models` triples (saddle, line, point).

    Returns arrays: trials (3 n_models, 2 n_trials, steps, 2) single trials (conditions stacked),
    averages (3 n_models, 2, steps, 2) condition averages, kind (3 n_models,) index into KINDS,
    model (3 n_models,) triple index, and the per-model parameters a, b, c, k (n_models,).
    """
    validate_family_args(n_models, n_trials, steps, dt, noise, input_strength)
    rng = np.random.default_rng(seed)
    params = {"a": -rng.uniform(0.5, 1.5, n_models), "b": rng.uniform(0.5, 1.5, n_models),
              "c": -rng.uniform(0.5, 1.5, n_models), "k": rng.uniform(0.5, 1.5, n_models)}
    u = np.array([input_strength, -input_strength])[:, None]  # (conditions, 1)
    scale = noise * math.sqrt(dt)
    trials, averages, kinds, models = [], [], [], []
    for m in range(n_models):
        a, b, c, k = (params[key][m] for key in ("a", "b", "c", "k"))
        xs = np.zeros((3, 2, n_trials, steps))  # x of saddle, line, point: (kind, condition, trial, time)
        ys = np.zeros((3, 2, n_trials, steps))  # y, the same stable law for every kind
        for t in range(steps - 1):
            x = xs[0, :, :, t]
            xs[0, :, :, t + 1] = x + dt * (a * x**3 + b * x + u) + scale * rng.standard_normal(x.shape)
            ys[:, :, :, t + 1] = (ys[:, :, :, t] + dt * (c * ys[:, :, :, t] + u)
                                  + scale * rng.standard_normal(ys[:, :, :, t].shape))
        x_bar = xs[0].mean(axis=1)  # (conditions, steps)
        drive = np.diff(x_bar, axis=1) / dt
        for t in range(steps - 1):
            v, target = drive[:, t : t + 1], x_bar[:, t : t + 1]
            xs[1, :, :, t + 1] = xs[1, :, :, t] + dt * v + scale * rng.standard_normal((2, n_trials))
            x = xs[2, :, :, t]
            xs[2, :, :, t + 1] = x + dt * (-k * x + v + k * target) + scale * rng.standard_normal((2, n_trials))
        for kind in range(3):
            system = np.stack([xs[kind], ys[kind]], axis=-1)  # (conditions, trials, steps, 2)
            trials.append(system.reshape(2 * n_trials, steps, 2))
            averages.append(system.mean(axis=1))
            kinds.append(kind)
            models.append(m)
    return {"trials": np.stack(trials), "averages": np.stack(averages), "kind": np.array(kinds),
            "model": np.array(models), **params}
