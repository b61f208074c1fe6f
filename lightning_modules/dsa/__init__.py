"""Models of the DSA paper: the attractor study (DSA vs Procrustes) and the flip-flop RNN."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"AttractorSimilarityStudy": ".attractor_study", "FlipFlopRNN": ".flip_flop_rnn"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
