"""DataModules, one per paper, with their data generators beside them."""

from neurobolts.datamodules.diffusion_bumps import DiffusionBumpsDataModule

__all__ = ["DiffusionBumpsDataModule"]
