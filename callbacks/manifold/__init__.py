"""Latent-manifold ordering: order metrics of a representation against ground-truth factors
(`metrics`), the A / B / C phase rule (`phases`) and the `LatentManifoldOrdering` Callback."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"LatentManifoldOrdering": ".callback", "PHASE_NAMES": ".phases", "PhaseRule": ".phases",
            "classify_phase": ".phases", "continuity": ".metrics", "distance_spearman": ".metrics",
            "explained_variance": ".metrics", "knn_r2": ".metrics", "manifold_metrics": ".metrics",
            "participation_ratio": ".metrics", "trustworthiness": ".metrics"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
