"""Figure of the inductive-bias-complexity scaling around one task's statistics (matplotlib only):
bits versus intrinsic dimension m (at the task's resolution), bits versus resolution delta (at the
task's m), and, when given, the model's bits over training against the task's bits."""

from __future__ import annotations

import math
import warnings

import numpy as np

from neurobolts.callbacks.inductive_bias.difficulty import classification_difficulty
from neurobolts.plugins.figures import pyplot


def _log10_bits(stats: dict, target_error: float, **changes) -> float:
    args = {
        "n": stats["n"], "intrinsic_dim": stats["intrinsic_dim"], "radius": stats["radius"],
        "resolution": stats["resolution"], "target_error": target_error, "num_classes": stats["num_classes"],
    }
    args.update(changes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # clamped points are drawn as gaps
        value = classification_difficulty(**args).log10_bits
    return value if math.isfinite(value) else math.nan


def scaling_figure(stats: dict, target_error: float, history: dict | None = None):
    """A matplotlib Figure with the scaling panels for the statistics `stats`
    (keys n, intrinsic_dim, radius, resolution, num_classes; optional intrinsic_dim_mle) and an
    optional history {"step": [...], "log10_bits": [...]} of the model's bits."""
    plt = pyplot()

    panels = 3 if history and history.get("step") else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 3.8))
    m0, delta0 = float(stats["intrinsic_dim"]), float(stats["resolution"])
    task = _log10_bits(stats, target_error)

    ms = np.arange(1, int(max(2 * m0, m0 + 8)) + 1)
    axes[0].plot(ms, [_log10_bits(stats, target_error, intrinsic_dim=float(m)) for m in ms], "o-", ms=3)
    axes[0].plot([m0], [task], "r*", ms=12, label=f"task (m = {m0:g})")
    raw = stats.get("intrinsic_dim_mle", math.nan)
    if raw is not None and math.isfinite(raw):
        axes[0].axvline(raw, color="gray", ls="--", lw=1, label=f"MLE m = {raw:.2f}")
    axes[0].set(xlabel="intrinsic dimension m", ylabel="log10 bits", title=f"delta = {delta0:.3g}")
    axes[0].legend(fontsize=8)

    deltas = delta0 * np.logspace(-1, 1, 41)
    axes[1].plot(deltas, [_log10_bits(stats, target_error, resolution=float(d)) for d in deltas], "-")
    axes[1].plot([delta0], [task], "r*", ms=12, label="task")
    axes[1].set_xscale("log")
    axes[1].set(xlabel="resolution delta", ylabel="log10 bits", title=f"m = {m0:g}")
    axes[1].legend(fontsize=8)

    if panels == 3:
        axes[2].plot(history["step"], history["log10_bits"], "o-", ms=3, label="model (at its val error)")
        axes[2].axhline(task, color="r", ls="--", label=f"task (error {target_error:g})")
        axes[2].set(xlabel="step", ylabel="log10 bits", title="architecture information")
        axes[2].legend(fontsize=8)
    fig.suptitle(f"inductive-bias complexity (n = {int(stats['n'])}, C = {int(stats['num_classes'])})")
    fig.tight_layout()
    return fig
