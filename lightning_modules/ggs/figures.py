"""The GGS figure: each method's median normalised fitness per seed (dots) and mean over seeds (bar),
next to the paper's number for the task (Tables 3-4) where there is one; diversity and novelty beside."""

from __future__ import annotations

import numpy as np

from neurobolts.plugins.figures import pyplot


def fitness_figure(rows: np.ndarray, columns: tuple[str, ...], methods: list[str], all_methods: tuple[str, ...],
                   paper: dict[str, tuple[float, float, float]] | None, task_name: str):
    """A figure of three panels (median fitness, diversity, novelty) over methods; `rows` holds one
    row per (seed, method) with `columns`."""
    plt = pyplot()
    figure, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    panels = (("median_fitness", "median normalised fitness", 0), ("diversity", "diversity (mean Levenshtein)", 1),
              ("novelty", "novelty (median min distance)", 2))
    for ax, (key, label, paper_index) in zip(axes, panels, strict=False):
        for x, method in enumerate(methods):
            values = rows[rows[:, 1] == all_methods.index(method), columns.index(key)]
            values = values[np.isfinite(values)]
            if len(values):
                ax.bar(x, values.mean(), color=f"C{x}", alpha=0.35, width=0.6)
                ax.scatter(np.full(len(values), x), values, color=f"C{x}", s=14, zorder=3)
            if paper and method in paper:
                ax.hlines(paper[method][paper_index], x - 0.3, x + 0.3, colors="k", linestyles="--",
                          label="paper" if x == 0 or method == methods[0] else None)
        ax.set_xticks(range(len(methods)), methods)
        ax.set_ylabel(label)
        if paper and key == "median_fitness":
            ax.legend(loc="best", fontsize=8)
    figure.suptitle(f"GGS on {task_name}: one dot per seed, bars = mean, dashed = paper")
    return figure
