"""Figures of `ExpanderHopfieldModule` (matplotlib): the cues of a prediction run and the states the
network recalled from them."""

from __future__ import annotations

import torch

from neurobolts.plugins.figures import pyplot


def recall_figure(cues: torch.Tensor, recalled: torch.Tensor, stored: torch.Tensor, max_cues: int = 32):
    """Up to `max_cues` cues (rows of 0/1 bits), the states recalled from them and the bits the dynamics
    changed, one row per cue; the row labels say whether the recalled state is a stored state."""
    plt = pyplot()

    n = min(len(cues), max_cues)
    changed = (cues[:n] != recalled[:n]).float()
    fig, axes = plt.subplots(3, 1, figsize=(9, 1.5 + 0.75 * max(n, 4) * 3 / 8), sharex=True)
    titles = ("cues", "recalled states", "bits changed by the dynamics")
    for ax, image, title in zip(axes, (cues[:n], recalled[:n], changed), titles, strict=True):
        ax.imshow(image.numpy(), cmap="gray_r", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.set_yticks(range(n))
        ax.set_yticklabels([f"{i}{'' if bool(stored[i]) else ' (not stored)'}" for i in range(n)], fontsize=5)
    axes[-1].set_xlabel("neuron")
    fig.suptitle(f"{int(stored.sum())} of {len(stored)} cues recalled a stored state ({n} shown)", fontsize=9)
    return fig
