"""Figures of FARCuriosity: the error on room A over the walk (one curve per condition), the error per
cell at the end of each phase, and RL curves against environment steps. Matplotlib on the Agg
backend (`plugins.figures.pyplot`); each function returns a figure for `log_figure` / `savefig`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from neurobolts.plugins.figures import pyplot

PHASE_NAMES = "ABCDEFG"


def error_curve_figure(histories: Mapping[str, Sequence[dict]], fractures: Mapping[str, Sequence[dict]] | None = None,
                       phase_steps: Sequence[int] = ()):
    """e_A(t) per condition ({label: [{"step", "e_A"}, ...]}), log scale, phase ends as dotted lines and
    each condition's fractures as markers on its curve."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7, 3.6))
    for label, history in histories.items():
        steps = np.asarray([h["step"] for h in history])
        errors = np.asarray([h["e_A"] for h in history])
        line, = axis.plot(steps, errors, label=label)
        for fracture in (fractures or {}).get(label, []):
            axis.axvline(fracture["step"], color=line.get_color(), alpha=0.35, lw=1)
    for k, step in enumerate(phase_steps):
        axis.axvline(step, color="k", ls=":", lw=1)
        axis.text(step, 1.0, f" end of {PHASE_NAMES[k]}", transform=axis.get_xaxis_transform(), fontsize=7,
                  va="top")
    axis.set_yscale("log")
    axis.set_xlabel("walk step")
    axis.set_ylabel("e_A (room A's module, mean over room A)")
    axis.legend(fontsize=8)
    return figure


def reward_maps_figure(floor: np.ndarray, cells: np.ndarray, maps: Mapping[str, np.ndarray], title: str = ""):
    """One panel per phase end: the floor image, and over it the error per free cell (`cells` (n, 2),
    `maps` {panel title: (n,) errors}) on one shared log colour scale."""
    plt = pyplot()
    from matplotlib.colors import LogNorm

    panels = list(maps.items())
    figure, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), squeeze=False)
    values = np.concatenate([v for _, v in panels]) if panels else np.ones(1)
    positive = values[values > 0]
    norm = LogNorm(vmin=max(positive.min(), 1e-8), vmax=max(positive.max(), 1e-7)) if positive.size else None
    cells = np.asarray(cells)
    image = None
    for axis, (name, errors) in zip(axes[0], panels, strict=True):
        grid = np.full(floor.shape[:2], np.nan)
        grid[cells[:, 0], cells[:, 1]] = np.maximum(errors, 1e-8)
        axis.imshow(floor, alpha=0.35)
        image = axis.imshow(grid, cmap="magma", norm=norm)
        axis.set_title(name, fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    if image is not None:
        figure.colorbar(image, ax=axes[0][-1], shrink=0.8, label="RND error")
    figure.suptitle(title, fontsize=10)
    return figure


def rl_curves_figure(curves: Mapping[str, Mapping[str, Sequence[tuple[float, float]]]], keys: Sequence[str]):
    """One panel per metric key; per condition the mean over seeds against environment steps, with the
    seeds' range shaded. `curves`: {condition: {key: [series per seed]}}, a series being a list of
    (env_steps, value) pairs."""
    plt = pyplot()
    figure, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.4), squeeze=False)
    for axis, key in zip(axes[0], keys, strict=True):
        for condition, by_key in curves.items():
            series = [np.asarray(s, dtype=float) for s in by_key.get(key, []) if len(s)]
            if not series:
                continue
            length = min(len(s) for s in series)
            steps = series[0][:length, 0]
            values = np.stack([s[:length, 1] for s in series])
            line, = axis.plot(steps, values.mean(0), label=f"{condition} ({len(series)} seeds)")
            axis.fill_between(steps, values.min(0), values.max(0), color=line.get_color(), alpha=0.2)
        axis.set_title(key, fontsize=9)
        axis.set_xlabel("environment steps")
    axes[0][0].legend(fontsize=8)
    return figure
