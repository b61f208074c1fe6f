"""LightningModules, one per paper, with their networks beside them."""

from neurobolts.lightning_modules.align import AlignModule
from neurobolts.lightning_modules.align_networks import NTKMLP, NTKRNN
from neurobolts.lightning_modules.conditional_unet import ConditionalUNet
from neurobolts.lightning_modules.diffusion_bumps import DiffusionBumpsModule
from neurobolts.lightning_modules.dsa_attractors import AttractorSimilarityStudy
from neurobolts.lightning_modules.expander_hopfield import ExpanderHopfieldModule
from neurobolts.lightning_modules.flip_flop_rnn import FlipFlopRNN
from neurobolts.lightning_modules.mlp_classifier import MLPClassifier

__all__ = ["AlignModule", "AttractorSimilarityStudy", "NTKMLP", "NTKRNN", "ConditionalUNet", "DiffusionBumpsModule", "ExpanderHopfieldModule", "FlipFlopRNN", "MLPClassifier"]
