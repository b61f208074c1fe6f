"""Dynamical Similarity Analysis (Ostrow et al. 2023): delay-DMD operators compared up to a change
of basis (`similarity.dsa`), the Procrustes baseline, network comparisons, and the
`DynamicalSimilarity` Callback."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"DynamicalSimilarity": ".callback", "dsa": ".similarity", "fit_systems": ".similarity",
            "DMDFit": ".delay_dmd", "delay_embedding": ".delay_dmd", "fit_dmd": ".delay_dmd",
            "optimal_rotation": ".operator_similarity", "pairwise_operator_distances": ".operator_similarity",
            "wasserstein_eigenvalue_distance": ".operator_similarity",
            "pairwise_procrustes_distances": ".procrustes", "procrustes_distance": ".procrustes",
            "cluster_separation": ".network_comparison", "compare_networks": ".network_comparison",
            "classical_mds": ".embedding"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
