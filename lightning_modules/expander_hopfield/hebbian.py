"""The classical Hopfield network (Hebbian outer-product rule): the baseline of the expander network.

K random patterns xi^mu in {0, 1}^N (spins sigma = 2 xi - 1) are stored in W = sigma^T sigma / N with a
zero diagonal; one parallel step sets s_i <- sign(sum_j W_ij s_j), a zero field keeping s_i. Its
capacity is linear, about 0.138 N patterns (Amit, Gutfreund & Sompolinsky 1985); beyond that,
retrieval collapses.
"""

from __future__ import annotations

import torch
from torch import nn

from neurobolts.datamodules.expander_hopfield.bit_flips import CueSampling
from neurobolts.lightning_modules.expander_hopfield.network import update_from_field
from neurobolts.plugins.checks import check_int

# the first bits of a message select the pattern: index = integer of these bits mod K
_INDEX_BITS = 40


def check_hopfield_arguments(n_neurons: int, n_patterns: int | None) -> None:
    """Raise ValueError naming the bad argument."""
    check_int("n_neurons", n_neurons, 2)
    check_int("n_patterns", n_patterns, 1, expected="an integer >= 1 for kind='hopfield'")


class HebbianHopfieldNetwork(CueSampling, nn.Module):
    """A Hopfield network storing random patterns with the Hebbian rule (the capacity baseline).

    Args:
        n_neurons: N.
        n_patterns: K, the random patterns stored (drawn from `generator`).
        generator: the torch generator the patterns are drawn from.
    """

    def __init__(self, n_neurons: int, n_patterns: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        check_hopfield_arguments(n_neurons, n_patterns)
        self.n_neurons = n_neurons
        self.n_patterns = n_patterns
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        patterns = torch.randint(0, 2, (n_patterns, n_neurons), generator=generator).float()
        spins = 2 * patterns - 1
        weights = spins.T @ spins / n_neurons
        weights.fill_diagonal_(0.0)
        self.register_buffer("patterns", patterns)
        self.register_buffer("weights", weights)

    @property
    def log2_stored_states(self) -> float:
        """log2 K: the patterns it was asked to store (not all of them need be stable)."""
        return float(torch.log2(torch.tensor(float(self.n_patterns))))

    @property
    def rate(self) -> float:
        return self.log2_stored_states / self.n_neurons

    def pattern_index(self, messages: torch.Tensor) -> torch.Tensor:
        """(cues,) index of the pattern a 0/1 message selects (its first 40 bits as an integer, mod K)."""
        bits = messages[:, :_INDEX_BITS].long()
        powers = 2 ** torch.arange(bits.shape[1], device=bits.device)
        return (bits * powers).sum(dim=1) % self.n_patterns

    def stored_states(self, messages: torch.Tensor) -> torch.Tensor:
        if messages.ndim != 2 or messages.shape[1] < 1:
            raise ValueError(f"messages must have shape (cues, >= 1), got {tuple(messages.shape)}")
        return self.patterns[self.pattern_index(messages)]

    def is_stored(self, x: torch.Tensor) -> torch.Tensor:
        """(cues,) True where the state equals one of the stored patterns."""
        overlap = (2 * x - 1) @ (2 * self.patterns - 1).T
        return (overlap == self.n_neurons).any(dim=1)

    def step(self, x: torch.Tensor) -> torch.Tensor:
        return update_from_field(x, (2 * x - 1) @ self.weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.step(x)
