"""The DataModule of a GGS experiment (docs/papers/ggs.md sections 2.2, 3, 6): the task (its training
set, the data an oracle is trained on, a held-out set of measured sequences, or the Ehrlich function)
and the sampling seeds as the test "episodes", one seed per test batch, shared over DDP ranks
without padding (every seed is sampled once, whatever the number of ranks)."""

from __future__ import annotations

from typing import Any

from lightning.pytorch import LightningDataModule

from neurobolts.datamodules.common.evaluation_order import EpisodeSet, evaluation_loader
from neurobolts.datamodules.ggs.tasks import TASKS, GGSTask, load_task
from neurobolts.plugins.checks import check_choice, check_int

TASK_NAMES = (*TASKS, "ehrlich")


class GGSTaskDataModule(LightningDataModule):
    """One GGS task and its sampling seeds.

    Args:
        task: aav_medium, aav_hard, gfp_medium, gfp_hard (spec 2.2) or ehrlich (spec 3).
        root: the folder with AAV/ground_truth.csv and the GFP training sets (None: NEUROBOLTS_GGS_DATA
            or ../shared/data/ggs beside the checkout).
        gfp_ground_truth: the GFP ground-truth CSV (sequence,score), needed by the GFP tasks' oracle.
        holdout_size: measured sequences outside the training set used for the holdout MAE.
        num_seeds: sampling seeds first_seed, first_seed + 1, ... (spec 2.6: 5).
        first_seed: the first sampling seed (the run's `seed`).
        ehrlich: keyword arguments of the Ehrlich task (length, num_motifs, motif_length, num_train, ...).
    """

    def __init__(self, task: str = "aav_hard", root: str | None = None, gfp_ground_truth: str | None = None,
                 holdout_size: int = 2000, num_seeds: int = 5, first_seed: int = 0,
                 ehrlich: dict[str, Any] | None = None) -> None:
        super().__init__()
        check_choice("task", task, TASK_NAMES)
        check_int("holdout_size", holdout_size, 0)
        check_int("num_seeds", num_seeds, 1)
        check_int("first_seed", first_seed)
        self.task_name = task
        self.root = root
        self.gfp_ground_truth = gfp_ground_truth
        self.holdout_size = holdout_size
        self.seeds = [first_seed + i for i in range(num_seeds)]
        self.ehrlich = dict(ehrlich or {})
        # loaded now (under a second for AAV: the split is derived with rapidfuzz), so that a bad path,
        # file or setting fails before anything is trained
        self.task: GGSTask = self._load()

    def _load(self) -> GGSTask:
        kwargs = dict(self.ehrlich) if self.task_name == "ehrlich" else {}
        seed = kwargs.pop("seed", 0)
        return load_task(self.task_name, self.root, gfp_ground_truth=self.gfp_ground_truth,
                         holdout_size=self.holdout_size, seed=seed, **kwargs)

    def test_dataloader(self):
        episodes = [{"seed": seed} for seed in self.seeds]
        return evaluation_loader(EpisodeSet(episodes), batch_size=None, trainer=self.trainer)
