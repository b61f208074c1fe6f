"""LightningModules, one subpackage per paper with its networks beside them."""

from neurobolts.plugins.lazy import lazy_exports

_EXPORTS = {"DiffusionBumpsModule": ".diffusion_bumps.module", "ConditionalUNet": ".diffusion_bumps.unet",
            "AlignModule": ".align.module", "NTKMLP": ".align.networks", "NTKRNN": ".align.networks",
            "ExpanderHopfieldModule": ".expander_hopfield.module",
            "AttractorSimilarityStudy": ".dsa.attractor_study", "FlipFlopRNN": ".dsa.flip_flop_rnn",
            "MLPClassifier": ".inductive_bias.mlp_classifier",
            "FarMapStudy": ".farmap.module",
            "FragmentationAgent": ".farmap.agent", "EpisodeResult": ".farmap.agent", "LocalMap": ".farmap.local_map",
            "LTMGraph": ".farmap.ltm", "SurprisalFragmenter": ".common.fragmentation"}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
