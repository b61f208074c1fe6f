"""Data of the Align paper: teacher and Add-task generators, KMNIST / CIFAR-10 archives, DataModules."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"AddTaskDataModule": ".datamodule", "ImageClassificationDataModule": ".datamodule",
            "TeacherClassificationDataModule": ".datamodule"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
