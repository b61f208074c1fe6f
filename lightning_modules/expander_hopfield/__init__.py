"""Expander Hopfield networks and the Hebbian baseline: module, networks, GF(2) algebra, memories."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"ExpanderHopfieldModule": ".module", "ExpanderHopfieldNetwork": ".network",
            "HebbianHopfieldNetwork": ".hebbian", "build_memory": ".memory"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
