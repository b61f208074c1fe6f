"""Cross-cutting analyses: a pure functional core plus thin Callbacks that attach to any run."""

from neurobolts.callbacks.dynamical_similarity import DynamicalSimilarity
from neurobolts.callbacks.inductive_bias_complexity import InductiveBiasComplexity
from neurobolts.callbacks.latent_manifold_ordering import LatentManifoldOrdering
from neurobolts.callbacks.non_finite_guard import NonFiniteGuard
from neurobolts.callbacks.recall_curve import RecallCurve
from neurobolts.callbacks.resume_state import ResumeState

__all__ = ["DynamicalSimilarity", "InductiveBiasComplexity", "LatentManifoldOrdering", "NonFiniteGuard",
           "RecallCurve", "ResumeState"]
