"""Figure of `AttractorSimilarityStudy` (matplotlib): the DSA and Procrustes distance matrices of the
attractor systems, sorted by attractor kind, and their classical MDS embeddings."""

from __future__ import annotations

import numpy as np

from neurobolts.callbacks.dsa.embedding import classical_mds
from neurobolts.datamodules.dsa.attractor_dynamics import KINDS
from neurobolts.plugins.figures import pyplot


def attractor_distances_figure(dsa_distances: np.ndarray, procrustes: np.ndarray, kinds: np.ndarray):
    """2 x 2 panels: for DSA (single trials) and Procrustes (condition averages), the distance matrix
    sorted by kind and the 2D classical MDS of the systems coloured by kind."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(9, 8))
    order = np.argsort(kinds, kind="stable")
    for row, (title, distances) in enumerate((("DSA (single trials)", dsa_distances),
                                              ("Procrustes (condition averages)", procrustes))):
        image = axes[row, 0].imshow(distances[np.ix_(order, order)], cmap="viridis")
        axes[row, 0].set_title(f"{title}, sorted by kind")
        fig.colorbar(image, ax=axes[row, 0], fraction=0.046)
        coords = classical_mds(distances)
        for k, name in enumerate(KINDS):
            axes[row, 1].scatter(*coords[kinds == k].T, label=name)
        axes[row, 1].set_title(f"{title}: classical MDS")
        axes[row, 1].legend()
    fig.tight_layout()
    return fig
