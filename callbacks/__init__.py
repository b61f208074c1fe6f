"""Cross-cutting analyses, one subpackage each: a pure functional core plus a thin Callback that
attaches to any run (`callback.py`), its figures (`figures.py`); `common` holds the shared
probe and RNG helpers, `reliability` the run-wide Callbacks the pipeline attaches."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"DynamicalSimilarity": ".dsa.callback", "FinalValidation": ".reliability.final_validation", "InductiveBiasComplexity": ".inductive_bias.callback",
            "LatentManifoldOrdering": ".manifold.callback", "LoggedStepCheckpoint": ".reliability.logged_step_checkpoint",
            "NonFiniteGuard": ".reliability.non_finite_guard", "RecallCurve": ".recall_curve.callback",
            "ResumeState": ".reliability.resume_state", "StepProgressBar": ".reliability.step_progress_bar"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
