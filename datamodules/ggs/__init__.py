"""GGS (Kirjner et al., ICLR 2024; docs/papers/ggs.md): protein sequences and their encoding
(sequences.py), the fitness CSVs and the medium / hard task splits (tasks.py), the Ehrlich test
functions (ehrlich.py) and the regression DataModule (datamodule.py)."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"FitnessTable": ".tasks", "TaskSpec": ".tasks", "TASKS": ".tasks",
            "GGSTask": ".tasks", "read_fitness_csv": ".tasks", "derive_split": ".tasks",
            "negative_examples": ".tasks", "resolve_data_root": ".tasks", "load_task": ".tasks",
            "EhrlichFunction": ".ehrlich", "ehrlich_task": ".ehrlich", "FitnessDataModule": ".datamodule"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
