"""FARCuriosity (docs/papers/far_curiosity.md). Exports are filled in as the pieces land."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {
    "RoomsEnv": ".rooms_env",
    "ENVIRONMENTS": ".environments", "env_kind": ".environments", "make_atari_env": ".environments",
    "make_env": ".environments", "make_vector_env": ".environments",
    "phase_rooms": ".forgetting_walk", "scripted_walk": ".forgetting_walk",
    "ForgettingWalkDataModule": ".forgetting",
    "RLEnvDataModule": ".rl_env",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
