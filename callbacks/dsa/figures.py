"""Figure of the `DynamicalSimilarity` Callback (matplotlib only): the snapshot-by-snapshot DSA distance
matrix and its 2D classical MDS embedding."""

from __future__ import annotations

import numpy as np

from neurobolts.callbacks.dsa.embedding import classical_mds
from neurobolts.plugins.figures import pyplot


def distances_figure(distances: np.ndarray, labels: list[str], snapshots: list[int], score_method: str):
    """A matplotlib Figure: the (n, n) `distances` between the `snapshots` (labelled `labels`; a label
    beyond the snapshots is the reference, drawn as a star) and their classical MDS embedding."""
    plt = pyplot()

    coords = classical_mds(distances)
    fig, (ax_matrix, ax_mds) = plt.subplots(1, 2, figsize=(10, 4.5))
    image = ax_matrix.imshow(distances, cmap="viridis")
    ax_matrix.set_xticks(range(len(labels)), labels, fontsize=7)
    ax_matrix.set_yticks(range(len(labels)), labels, fontsize=7)
    ax_matrix.set_title(f"DSA ({score_method}) between snapshots")
    fig.colorbar(image, ax=ax_matrix, fraction=0.046)
    n_snap = len(snapshots)
    ax_mds.plot(coords[:n_snap, 0], coords[:n_snap, 1], "-", color="0.7", zorder=1)
    points = ax_mds.scatter(coords[:n_snap, 0], coords[:n_snap, 1], c=snapshots, cmap="plasma", zorder=2)
    if len(labels) > n_snap:
        ax_mds.scatter(coords[n_snap:, 0], coords[n_snap:, 1], marker="*", s=200, c="k", label="reference")
        ax_mds.legend()
    fig.colorbar(points, ax=ax_mds, fraction=0.046, label="epochs completed")
    ax_mds.set_title("classical MDS of the DSA distances")
    fig.tight_layout()
    return fig
