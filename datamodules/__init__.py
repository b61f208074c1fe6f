"""DataModules, one per paper, with their data generators beside them."""

from neurobolts.datamodules.align import (
    AddTaskDataModule,
    ImageClassificationDataModule,
    TeacherClassificationDataModule,
)
from neurobolts.datamodules.corrupted_cues import CorruptedCuesDataModule
from neurobolts.datamodules.diffusion_bumps import DiffusionBumpsDataModule
from neurobolts.datamodules.dsa_attractors import AttractorSystemsDataModule
from neurobolts.datamodules.flip_flop import FlipFlopDataModule
from neurobolts.datamodules.ibc_tasks import SphereTasksDataModule

__all__ = ["AddTaskDataModule", "AttractorSystemsDataModule", "CorruptedCuesDataModule", "DiffusionBumpsDataModule", "FlipFlopDataModule", "ImageClassificationDataModule",
           "TeacherClassificationDataModule", "SphereTasksDataModule"]
