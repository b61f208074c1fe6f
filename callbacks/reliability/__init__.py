"""Run-wide Callbacks the pipeline attaches: exact resume state, the non-finite guard, the
validation of the final step, checkpoints named by the logged step, and the step-counting progress
bar."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"FinalValidation": ".final_validation", "NonFiniteGuard": ".non_finite_guard", "ResumeState": ".resume_state",
            "checkpoint_run_id": ".resume_state", "LoggedStepCheckpoint": ".logged_step_checkpoint",
            "StepProgressBar": ".step_progress_bar"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
