"""Pieces LightningModules share: the optimiser/scheduler factory and the surprisal fragmenter
(FARMap, FARCuriosity) and the base of
the studies that train nothing (`EpisodeStudy`)."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"build_optimizers": ".optim", "check_factory": ".optim", "SurprisalFragmenter": ".fragmentation",
            "EpisodeStudy": ".episode_study"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
