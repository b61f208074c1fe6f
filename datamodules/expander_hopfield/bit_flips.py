"""Random stored-state selectors and bit-flip masks for associative-memory recall (pure generators).

A cue is a stored state with exactly floor(p N) of its N bits flipped (docs/papers/expander_hopfield.md
section 4). The stored states themselves belong to the network (a memory maps a uniform 0/1 message
to one of its stored states), so the data are the messages and the flip masks. `CueSampling` gives
the memories `sample_cues`, where the recall core (`callbacks/recall_curve/recall.py`) takes its cues.
"""

from __future__ import annotations

import math

import torch

from neurobolts.plugins.checks import check_fraction


def flip_count(n_neurons: int, flip_fraction: float) -> int:
    """floor(p N), with a tolerance so that e.g. 0.01 * 600 gives 6 and not 5."""
    check_fraction("flip_fraction", flip_fraction)
    return int(math.floor(flip_fraction * n_neurons + 1e-9))


def random_messages(n_cues: int, n_neurons: int, generator: torch.Generator) -> torch.Tensor:
    """(n_cues, N) uniform 0/1 messages (float)."""
    return torch.randint(0, 2, (n_cues, n_neurons), generator=generator).float()


def flip_masks(n_cues: int, n_neurons: int, flip_fraction: float, generator: torch.Generator) -> torch.Tensor:
    """(n_cues, N) bool masks with exactly floor(p N) True entries per row, at uniform positions."""
    m = flip_count(n_neurons, flip_fraction)
    masks = torch.zeros(n_cues, n_neurons, dtype=torch.bool)
    if m:
        positions = torch.rand(n_cues, n_neurons, generator=generator).argsort(dim=1)[:, :m]
        masks.scatter_(1, positions, True)
    return masks


def corrupt(states: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Flip the 0/1 states where the mask is True."""
    return torch.where(flips, 1 - states, states)


class CueSampling:
    """Mixin of the memories (`n_neurons`, `stored_states(messages)`, buffers on the memory's device):
    `sample_cues`, where the recall core (`callbacks/recall_curve/recall.py`) takes its cues."""

    def sample_cues(self, n_cues: int, flip_fraction: float, generator: torch.Generator):
        """(targets, cues), both (n_cues, N): random stored states, and the same with floor(p N) random
        bits flipped. The messages, then the flip masks, are drawn from `generator` on the CPU."""
        device = next(iter(self.buffers())).device
        messages = random_messages(n_cues, self.n_neurons, generator).to(device)
        flips = flip_masks(n_cues, self.n_neurons, flip_fraction, generator).to(device)
        targets = self.stored_states(messages)
        return targets, corrupt(targets, flips)
