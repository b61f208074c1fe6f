"""LightningModules, one per paper, with their networks beside them."""

from neurobolts.lightning_modules.conditional_unet import ConditionalUNet
from neurobolts.lightning_modules.diffusion_bumps import DiffusionBumpsModule

__all__ = ["ConditionalUNet", "DiffusionBumpsModule"]
