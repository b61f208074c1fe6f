"""DataModules, one subpackage per paper with its data generators beside them; `common` holds
the global batch order shared by the training loaders."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"AddTaskDataModule": ".align.datamodule", "AttractorSystemsDataModule": ".dsa.attractors",
            "CorruptedCuesDataModule": ".expander_hopfield.datamodule",
            "DiffusionBumpsDataModule": ".diffusion_bumps.datamodule", "FlipFlopDataModule": ".dsa.flip_flop",
            "ImageClassificationDataModule": ".align.datamodule",
            "TeacherClassificationDataModule": ".align.datamodule",
            "SphereTasksDataModule": ".inductive_bias.datamodule",
            "FarMapEpisodesDataModule": ".farmap.datamodule"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
