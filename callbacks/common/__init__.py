"""Helpers shared by the analysis Callbacks: the probe forward and an isolated RNG scope."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"call_with": ".probe", "move_to_device": ".probe", "resolve_module": ".probe"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
