"""Build the associative memories of the expander_hopfield paper by kind: the bipartite expander
network or the classical Hebbian Hopfield baseline. Their recall (run to a fixed point, scores,
curves) is the memory-agnostic core `neurobolts.callbacks.recall_curve.recall`."""

from __future__ import annotations

import torch
from torch import nn

from neurobolts.lightning_modules.expander_hopfield.hebbian import HebbianHopfieldNetwork
from neurobolts.lightning_modules.expander_hopfield.network import ExpanderHopfieldNetwork
from neurobolts.plugins.checks import check_choice

MEMORY_KINDS = ("expander", "hopfield")


def build_memory(
    kind: str,
    n_neurons: int,
    seed: int = 0,
    hamming_r: int = 4,
    degree: int = 3,
    self_coupling: float = 0.0,
    decoder: str = "syndrome",
    wiring: str = "sparse",
    dynamics: str = "majority",
    n_patterns: int | None = None,
) -> nn.Module:
    """An expander network (Hamming(2^r - 1) local codes, degree gamma) or a Hebbian Hopfield network
    with `n_patterns` patterns, built from `seed`."""
    check_choice("kind", kind, MEMORY_KINDS)
    generator = torch.Generator().manual_seed(int(seed))
    if kind == "expander":
        return ExpanderHopfieldNetwork(n_neurons, hamming_r, degree, self_coupling, decoder, wiring, dynamics,
                                       generator)
    return HebbianHopfieldNetwork(n_neurons, n_patterns, generator)
