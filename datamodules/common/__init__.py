"""Data order shared by the DataModules: the global batch order (DDP parity, exact resume) and
unpadded evaluation shares (exact metrics under DDP)."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"GlobalBatchSampler": ".global_batch_order", "ResumableDataLoader": ".global_batch_order",
            "global_batch_share": ".global_batch_order", "training_loader": ".global_batch_order",
            "evaluation_loader": ".evaluation_order", "EpisodeSet": ".evaluation_order",
            "load_inputs": ".prediction_inputs"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
