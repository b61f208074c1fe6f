"""Figure of `AlignModule` (matplotlib): the per-layer alignment of the applied update with backprop."""

from __future__ import annotations

import torch

from neurobolts.plugins.figures import pyplot


def alignment_figure(history: dict[str, list], rule: str):
    """Per-layer cosine between the applied update and the backprop gradient over training
    (`history`: {"step": [...], "cos": [[per layer], ...]})."""
    plt = pyplot()

    h = history
    cos = torch.tensor(h["cos"], dtype=torch.float64)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for i in range(cos.shape[1]):
        ax.plot(h["step"], cos[:, i].numpy(), marker="o", ms=2, label=f"layer {i + 1}")
    ax.set_xlabel("training step")
    ax.set_ylabel("cos(update, backprop gradient)")
    ax.set_ylim(-1.02, 1.02)
    ax.axhline(0.0, color="k", lw=0.5)
    ax.legend(fontsize=7)
    ax.set_title(f"rule {rule}: per-layer alignment with backprop", fontsize=9)
    return fig
