"""Gaussian-bump images (diffusion_bumps paper): the generator and the DataModule."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"DiffusionBumpsDataModule": ".datamodule", "evaluation_grid": ".bumps", "render_bumps": ".bumps",
            "ConditionsDataModule": ".prediction"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
