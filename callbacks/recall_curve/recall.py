"""Recall in associative memories (pure functions, no Lightning): run the network's own dynamics from
corrupted cues to a fixed point, score the outcome, and sweep recall over sizes and flip fractions.

A memory is any object with `n_neurons`, `stored_states(messages)`, `step(x)`, `is_stored(x)` and
`sample_cues(n_cues, flip_fraction, generator) -> (targets, cues)` (ExpanderHopfieldNetwork and
HebbianHopfieldNetwork, whose cues come from `datamodules/expander_hopfield/bit_flips.py`). Memories
are built by their LightningModule (`build_memory`), never here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from neurobolts.plugins.checks import check_positive_int


@dataclass
class RecallResult:
    final: torch.Tensor  # (cues, N) state after the dynamics
    steps: torch.Tensor  # (cues,) parallel steps that changed the state
    converged: torch.Tensor  # (cues,) True where the final state is a fixed point


@torch.no_grad()
def run_to_fixed_point(memory, cues: torch.Tensor, max_steps: int = 30) -> RecallResult:
    """Iterate parallel steps until every cue sits at a fixed point or `max_steps` steps were taken.
    Cues that have settled are not stepped again (the update is deterministic)."""
    check_positive_int("max_steps", max_steps)
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
    """Mean outcomes of `trials` random stored states cued with floor(p N) random flips (the cues of
    `memory.sample_cues`, drawn batch by batch from one generator seeded with `seed`)."""
    generator = torch.Generator().manual_seed(int(seed))
    totals: dict[str, float] = {}
    done = flips = 0
    while done < trials:
        size = min(batch_size, trials - done)
        targets, cues = memory.sample_cues(size, flip_fraction, generator)
        flips = int((cues[0] != targets[0]).sum())  # floor(p N): the same for every cue
        result = run_to_fixed_point(memory, cues, max_steps)
        for key, value in recall_scores(memory, targets, result).items():
            totals[key] = totals.get(key, 0.0) + float(value.sum())
        done += size
    out = {key: value / trials for key, value in totals.items()}
    out.update(trials=trials, flips=flips, flip_fraction=float(flip_fraction))
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
