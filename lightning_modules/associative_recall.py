"""Recall in associative memories (pure functions, no Lightning): run the network's own dynamics from
corrupted cues to a fixed point, score the outcome, and sweep recall over sizes and flip fractions.

A memory is any object with `n_neurons`, `stored_states(messages)`, `step(x)` and `is_stored(x)`
(ExpanderHopfieldNetwork and HebbianHopfieldNetwork).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from neurobolts.datamodules.bit_flips import corrupt, flip_count, flip_masks, random_messages
from neurobolts.lightning_modules.expander_hopfield_network import ExpanderHopfieldNetwork
from neurobolts.lightning_modules.hebbian_hopfield import HebbianHopfieldNetwork

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
    generator = torch.Generator().manual_seed(int(seed))
    if kind == "expander":
        return ExpanderHopfieldNetwork(n_neurons, hamming_r, degree, self_coupling, decoder, wiring, dynamics,
                                       generator)
    if kind == "hopfield":
        return HebbianHopfieldNetwork(n_neurons, n_patterns, generator)
    raise ValueError(f"kind must be one of {MEMORY_KINDS}, got {kind!r}")


@dataclass
class RecallResult:
    final: torch.Tensor  # (cues, N) state after the dynamics
    steps: torch.Tensor  # (cues,) parallel steps that changed the state
    converged: torch.Tensor  # (cues,) True where the final state is a fixed point


@torch.no_grad()
def run_to_fixed_point(memory, cues: torch.Tensor, max_steps: int = 30) -> RecallResult:
    """Iterate parallel steps until every cue sits at a fixed point or `max_steps` steps were taken.
    Cues that have settled are not stepped again (the update is deterministic)."""
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
    x = cues.clone()
    steps = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
    converged = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    active = torch.arange(x.shape[0], device=x.device)
    for _ in range(max_steps + 1):
        if active.numel() == 0:
            break
        current = x[active]
        nxt = memory.step(current)
        changed = (nxt != current).any(dim=1)
        converged[active[~changed]] = True
        if steps[active[0]] == max_steps:  # all active cues have used up the step budget
            break
        x[active] = nxt
        steps[active[changed]] += 1
        active = active[changed]
    return RecallResult(final=x, steps=steps, converged=converged)


def recall_scores(memory, targets: torch.Tensor, result: RecallResult) -> dict[str, torch.Tensor]:
    """Per-cue outcomes: exact (final == target), bit_accuracy (fraction of correct bits), steps,
    unconverged, spurious (a fixed point that is no stored state) and wrong_memory (another stored
    state)."""
    correct = result.final == targets
    exact = correct.all(dim=1)
    stored = memory.is_stored(result.final)
    return {
        "exact_recall": exact.float(),
        "bit_accuracy": correct.float().mean(dim=1),
        "steps": result.steps.float(),
        "unconverged": (~result.converged).float(),
        "spurious": (result.converged & ~stored).float(),
        "wrong_memory": (stored & ~exact).float(),
    }


def recall_trials(
    memory, flip_fraction: float, trials: int, max_steps: int = 30, seed: int = 0, batch_size: int = 1000
) -> dict[str, float]:
    """Mean outcomes of `trials` random stored states cued with floor(p N) random flips."""
    generator = torch.Generator().manual_seed(int(seed))
    n = memory.n_neurons
    totals: dict[str, float] = {}
    done = 0
    device = next(iter(memory.buffers())).device
    while done < trials:
        size = min(batch_size, trials - done)
        messages = random_messages(size, n, generator).to(device)
        flips = flip_masks(size, n, flip_fraction, generator).to(device)
        targets = memory.stored_states(messages)
        result = run_to_fixed_point(memory, corrupt(targets, flips), max_steps)
        for key, value in recall_scores(memory, targets, result).items():
            totals[key] = totals.get(key, 0.0) + float(value.sum())
        done += size
    out = {key: value / trials for key, value in totals.items()}
    out.update(trials=trials, flips=flip_count(n, flip_fraction), flip_fraction=float(flip_fraction))
    return out


def recall_curve(
    build: Callable[[int], object],
    sizes: list[int],
    flip_fractions: list[float],
    trials: int,
    max_steps: int = 30,
    seed: int = 0,
    label: str = "memory",
) -> list[dict]:
    """P(exact recall) and the other outcomes against p for each N: one record per (N, p) with the
    `label`, N, log2 of the stored states, K (Hopfield), the flips per cue and the trial count.
    `build(n)` makes the memory of size n (one network per N)."""
    records = []
    for n in sizes:
        memory = build(n)
        for i, p in enumerate(flip_fractions):
            outcome = recall_trials(memory, p, trials, max_steps, seed=seed * 1000 + i + 1)
            records.append({"label": label, "n_neurons": n, "log2_stored_states": memory.log2_stored_states,
                            "n_patterns": getattr(memory, "n_patterns", None), **outcome})
    return records
