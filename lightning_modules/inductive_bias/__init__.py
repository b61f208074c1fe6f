"""The MLP classifier trained on the inductive-bias-complexity sphere tasks."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"MLPClassifier": ".mlp_classifier"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
