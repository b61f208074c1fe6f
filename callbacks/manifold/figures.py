"""Figures of the `LatentManifoldOrdering` Callback (matplotlib, scikit-learn; UMAP if installed): the
latent embedding at one measurement and the summary over training."""

from __future__ import annotations

import torch

from neurobolts.plugins.figures import pyplot


def embedding_figure(latents: torch.Tensor, factors: torch.Tensor, title: str):
    """PCA (and UMAP, if `umap-learn` is installed) of the (n, d) latents, one panel per factor column
    coloured by that factor."""
    plt = pyplot()
    from sklearn.decomposition import PCA

    embeddings = {"PCA": PCA(n_components=2).fit_transform(latents.numpy())}
    try:
        import umap  # optional extra: pip install "neurobolts[umap]"

        embeddings["UMAP"] = umap.UMAP(n_components=2, random_state=0).fit_transform(latents.numpy())
    except ImportError:
        pass
    f = factors.reshape(len(factors), -1).numpy()
    fig, axes = plt.subplots(len(embeddings), f.shape[1], figsize=(3.2 * f.shape[1], 3 * len(embeddings)),
                             squeeze=False)
    for row, (name, emb) in enumerate(embeddings.items()):
        for j in range(f.shape[1]):
            ax = axes[row, j]
            sc = ax.scatter(emb[:, 0], emb[:, 1], c=f[:, j], s=8, cmap="viridis")
            fig.colorbar(sc, ax=ax, shrink=0.8)
            ax.set_title(f"{name} coloured by factor {j}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    return fig


def summary_figure(history: dict[str, list[float]], tracked: dict[str, list[float]], title: str):
    """Order metrics, participation ratio, and the tracked metrics with the phase, over training steps."""
    plt = pyplot()

    h = history
    fig, axes = plt.subplots(3, 1, figsize=(7, 8), sharex=True)
    for key in ("trustworthiness", "continuity", "distance_spearman"):
        axes[0].plot(h["step"], h[key], marker="o", ms=3, label=key)
    for key in sorted(k for k in h if k.startswith("knn_r2")):
        axes[0].plot(h["step"], h[key], ls="--", lw=1, label=key)
    axes[0].set_ylabel("order metrics")
    axes[0].legend(fontsize=7)
    axes[1].plot(h["step"], h["participation_ratio"], marker="o", ms=3, color="tab:purple")
    axes[1].set_ylabel("participation ratio")
    for key in (k for k in tracked if k != "step"):
        axes[2].plot(tracked["step"], tracked[key], marker="o", ms=3, label=key)
    axes[2].plot(h["step"], [p / 2 for p in h["phase"]], drawstyle="steps-post", color="k", lw=1.5,
                 label="manifold phase (0 A, 0.5 B, 1 C)")
    axes[2].set_ylabel("fraction / phase")
    axes[2].set_xlabel("training step")
    axes[2].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    return fig
