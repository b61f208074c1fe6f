"""Figures of `DiffusionBumpsModule` (matplotlib): the evaluation samples with their conditions, the
phase curve over training with its milestones, and the samples of a prediction run with the requested
and the found bump centres."""

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


def prediction_figure(samples: torch.Tensor, requested: torch.Tensor, found: torch.Tensor, phase: torch.Tensor,
                      summary: dict[str, float], max_samples: int = 196):
    """Mosaic of up to `max_samples` samples (B, 1, N, N) in [0, 1] of a prediction run: the requested
    centre (red +) and the centre of the strongest peak the scorer found (x: green for phase C, orange
    for B, grey for A; none without a peak), titled with the phase fractions `summary`."""
    plt = pyplot()
    from matplotlib.lines import Line2D

    n = min(len(samples), max_samples)
    columns = max(1, int(math.ceil(math.sqrt(n))))
    cell = samples.shape[-1] + 1
    mosaic = image_mosaic(samples[:n, 0].numpy(), columns, gap=1)
    fig, ax = plt.subplots(figsize=(8, 8 * mosaic.shape[0] / mosaic.shape[1] + 0.8))
    cmap = plt.get_cmap("gray").with_extremes(bad="#3050a0")
    ax.imshow(mosaic, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    rows_cols = [divmod(k, columns) for k in range(n)]
    ax.scatter([c * cell + float(requested[k, 0]) for k, (_, c) in enumerate(rows_cols)],
               [r * cell + float(requested[k, 1]) for k, (r, _) in enumerate(rows_cols)],
               s=30, c="#ff3030", marker="+", linewidths=1.0)
    colours = ("#a0a0a0", "#ff9900", "#30d050")  # phase A, B, C
    for k, (r, c) in enumerate(rows_cols):
        if not math.isnan(float(found[k, 0])):
            ax.scatter([c * cell + float(found[k, 0])], [r * cell + float(found[k, 1])], s=22,
                       c=colours[int(phase[k])], marker="x", linewidths=1.0)
    handles = [Line2D([], [], color="#ff3030", marker="+", ls="", label="requested")]
    handles += [Line2D([], [], color=colour, marker="x", ls="", label=f"found ({name})")
                for name, colour in zip("ABC", colours, strict=True)]
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=4)
    ax.set_axis_off()
    ax.set_title(f"{len(samples)} samples ({n} shown): A {summary['predict/frac_A']:.2f}  "
                 f"B {summary['predict/frac_B']:.2f}  C {summary['predict/frac_C']:.2f}", fontsize=9)
    return fig
