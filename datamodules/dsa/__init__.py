"""Systems of the DSA paper: attractor families, the flip-flop task and Lorenz trajectories."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"AttractorSystemsDataModule": ".attractors", "FlipFlopDataModule": ".flip_flop",
            "attractor_family": ".attractor_dynamics", "lorenz_trajectories": ".lorenz"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
