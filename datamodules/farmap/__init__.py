"""FARMap episodes (docs/papers/farmap.md): maps x seeds, each with its colours and start pose; the grid
world itself is `neurobolts.datamodules.gridworld`, shared with FARCuriosity and Map Induction."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"FarMapEpisodesDataModule": ".datamodule", "episode_rng": ".datamodule"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
