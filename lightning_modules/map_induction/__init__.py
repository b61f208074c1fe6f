"""Map Induction (Sharma et al., ICLR 2022; docs/papers/map_induction.md)."""

from neurobolts.plugins.lazy import lazy_exports

# the functions `hypotheses` and `posterior` are named like their modules, so they are imported from
# those (`from neurobolts.lightning_modules.map_induction.hypotheses import hypotheses`), not exported here
_EXPORTS = {
    "reflect_x": ".primitives", "reflect_y": ".primitives", "rotate": ".primitives",
    "duplicate_x": ".primitives", "duplicate_y": ".primitives", "scale_u": ".primitives",
    "scale_x": ".primitives", "scale_y": ".primitives", "add_wall": ".primitives",
    "remove_wall": ".primitives",
    "tile_shapes": ".proposals", "tile_positions": ".proposals", "room_tile_grid": ".proposals",
    "propose": ".proposals", "restore_rewards": ".proposals",
    "Hypotheses": ".hypotheses", "InductionState": ".hypotheses", "Belief": ".posterior",
    "map_hypothesis": ".posterior",
    "GenerativeModel": ".pomcp", "POMCP": ".pomcp", "RootStatistics": ".pomcp", "TigerProblem": ".pomcp",
    "weighted_sampler": ".pomcp",
    "NavigationModel": ".navigation", "frontier_bonus": ".navigation", "hypothesis_reward_maps": ".navigation",
    "AGENTS": ".agents", "BeliefSnapshot": ".agents", "EpisodeResult": ".agents", "run_episode": ".agents",
    "episode_settings": ".agents", "induction_state": ".agents", "agent_belief": ".agents",
    "first_room_visits": ".room_visits", "FirstRoomRecorder": ".room_visits",
    "transition_log_likelihood": ".human_fit", "compare_models": ".human_fit", "decision_steps": ".human_fit",
    "HumanFit": ".human_fit", "TransitionFit": ".human_fit",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
