"""Figures of `DiffusionBumpsModule` (matplotlib): the evaluation samples with their conditions, and the
phase curve over training with its milestones."""

from __future__ import annotations

import math

import torch

from neurobolts.plugins.figures import image_mosaic, pyplot


def sample_figure(samples: torch.Tensor, cond: torch.Tensor, values: dict[str, float], step: int, max_samples: int):
    """Mosaic of up to `max_samples` samples (B, 1, N, N) in [0, 1] with their conditions (red +), titled
    with the phase fractions `values` at training step `step`."""
    plt = pyplot()

    n = min(len(samples), max_samples)
    columns = max(1, int(math.ceil(math.sqrt(n))))
    cell = samples.shape[-1] + 1  # one pixel of gap between samples
    mosaic = image_mosaic(samples[:n, 0].numpy(), columns, gap=1)
    fig, ax = plt.subplots(figsize=(8, 8 * mosaic.shape[0] / mosaic.shape[1] + 0.5))
    cmap = plt.get_cmap("gray").copy()
    cmap.set_bad("#3050a0")
    ax.imshow(mosaic, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    rows_cols = [divmod(k, columns) for k in range(n)]
    ax.scatter(
        [c * cell + float(cond[k, 0]) for k, (_, c) in enumerate(rows_cols)],
        [r * cell + float(cond[k, 1]) for k, (r, _) in enumerate(rows_cols)],
        s=14, c="#ff3030", marker="+", linewidths=0.8,
    )
    ax.set_axis_off()
    ax.set_title(
        f"step {step}: A {values['frac_A']:.2f}  B {values['frac_B']:.2f}  "
        f"C {values['frac_C']:.2f}  (red + = condition)",
        fontsize=9,
    )
    return fig


def phase_figure(history: dict[str, list[float]], milestones: dict[str, float]):
    """The A / B / C fractions over training (`history`) with the milestone steps."""
    plt = pyplot()

    h = history
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key, color in (("frac_A", "tab:gray"), ("frac_B", "tab:orange"), ("frac_C", "tab:green")):
        ax.plot(h["step"], h[key], marker="o", ms=3, color=color, label=key.replace("frac_", ""))
    for key, style in (("step_B_peak", ":"), ("step_C50", "--"), ("step_C95", "-.")):
        if not math.isnan(milestones[key]):
            ax.axvline(milestones[key], color="k", ls=style, lw=0.8, label=f"{key} = {milestones[key]:.0f}")
    ax.set_xlabel("training step")
    ax.set_ylabel("fraction of evaluation samples")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, loc="center right")
    ax.set_title("Phases: A (not one bump), B (one bump, wrong place), C (right place)", fontsize=8)
    return fig
