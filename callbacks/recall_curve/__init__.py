"""Recall curves of associative memories: the memory-agnostic recall machinery (`recall`), the
`RecallCurve` Callback and its figure."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"RecallCurve": ".callback", "RecallResult": ".recall", "recall_curve": ".recall",
            "recall_scores": ".recall", "recall_trials": ".recall", "run_to_fixed_point": ".recall",
            "recall_curve_figure": ".figures"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
