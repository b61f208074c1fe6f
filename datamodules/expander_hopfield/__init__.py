"""Corrupted cues for associative memories (expander_hopfield paper): bit flips and the DataModule."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"CorruptedCuesDataModule": ".datamodule", "corrupt": ".bit_flips", "flip_masks": ".bit_flips",
            "random_messages": ".bit_flips", "CuesDataModule": ".prediction"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
