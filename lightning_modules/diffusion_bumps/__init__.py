"""Conditional DDPM on Gaussian bumps: the module, its U-Net, samplers and bump scoring."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"DiffusionBumpsModule": ".module", "ConditionalUNet": ".unet", "NoiseSchedule": ".sampling",
            "score_bumps": ".scoring"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
