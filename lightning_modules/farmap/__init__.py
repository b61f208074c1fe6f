"""FARMap (docs/papers/farmap.md): fragmentation-and-recall map building and the Frontier baseline in
the shared grid world, as pure numpy pieces: the local map (STM), the LTM graph, subgoal selection
and the agent loop."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"LocalMap": ".local_map", "LTMGraph": ".ltm", "Fracture": ".ltm",
            "NearCandidates": ".subgoals", "near_candidates": ".subgoals", "far_scores": ".subgoals",
            "choose_far": ".subgoals", "FragmentationAgent": ".agent", "EpisodeResult": ".agent",
            "run_episode": ".agent", "FarMapStudy": ".module"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
