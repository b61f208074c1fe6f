"""Sphere classification tasks with known statistics (inductive-bias complexity)."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"SphereTasksDataModule": ".datamodule", "sphere_classification_task": ".sphere_tasks"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
