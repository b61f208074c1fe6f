"""FARCuriosity (docs/papers/far_curiosity.md). Exports are filled in as the pieces land."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {
    "RunningMeanStd": ".rnd", "ObservationNormaliser": ".rnd", "RewardForwardFilter": ".rnd",
    "normalise_intrinsic": ".rnd", "IntrinsicRewardNormaliser": ".rnd", "RND": ".rnd", "rnd_kind": ".rnd",
    "FARCuriosity": ".far", "FractureRecord": ".far",
    "ActorCritic": ".ppo", "gae": ".ppo", "ppo_policy_loss": ".ppo", "value_loss": ".ppo",
    "PPOCuriosity": ".module", "Rollout": ".module",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
