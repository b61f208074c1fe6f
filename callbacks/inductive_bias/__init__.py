"""Inductive-bias complexity (Boopathy et al. 2023): the closed-form bounds (`difficulty`), the
task-statistics estimators, and the `InductiveBiasComplexity` Callback."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"InductiveBiasComplexity": ".callback", "Difficulty": ".difficulty",
            "classification_difficulty": ".difficulty", "inductive_bias_complexity": ".difficulty",
            "task_difficulty_bits": ".difficulty", "estimate_task_statistics": ".task_statistics",
            "mle_intrinsic_dim": ".intrinsic_dimension", "twonn_intrinsic_dim": ".intrinsic_dimension",
            "scaling_figure": ".figures"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
