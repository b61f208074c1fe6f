"""Backprop-free training of wide networks (Align-zero, Align-ada): module, NTK networks, rules."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"AlignModule": ".module", "NTKMLP": ".networks", "NTKRNN": ".networks", "align_update": ".rules"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
