"""Pieces every LightningModule shares: the optimiser/scheduler factory."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"build_optimizers": ".optim", "check_factory": ".optim"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
