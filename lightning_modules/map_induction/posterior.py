"""The belief over map hypotheses (docs/papers/map_induction.md section 2.5; oracles 7.2, 7.3, 7.5).

`posterior(known, maps, collected=None, fallback=True)`:

1. Prior: uniform over the hypotheses (the reference's size-principle prior is commented out).
2. Likelihood of a hypothesis map: 1 if it has no conflict with the observation (an observed cell
   where exactly one of the two is a wall; rewards are ignored) and holds at least one reward cell
   not yet collected, else 0. `collected` (a bool (H, W) mask or an iterable of (row, col) cells)
   names the rewards already collected: a reward cell of a hypothesis there does not count.
3. Duplicates: among the hypotheses of likelihood 1, those with the same layout of uncollected
   rewards are one hypothesis for the planner (whose reward shaping reads only the reward cells); the
   one with the fewest UNOBSERVED cells (the most filled-in map) is kept, the first on a tie.
4. Fallback "observed map only" (`fallback`, default on): the observed map itself (UNOBSERVED kept),
   likelihood 1 - (unobserved fraction of the map), appended last. It takes no part in step 3: it
   stands for "nothing is inferred", not for a reward layout.
5. Normalise the likelihoods (times the uniform prior) and drop the zero-belief hypotheses.
   If every likelihood is 0 (no consistent rewarded hypothesis and the fallback off or nothing
   observed), the belief is the fallback alone with weight 1, whatever the flag: a belief must be a
   distribution, and "nothing inferred" is the only assumption-free one.

`Belief` holds the maps (int8 (n, H, W), AGENT read as EMPTY), the weights (float64, > 0, sum 1), the
uncollected reward cells of each map (`reward_maps`, bool (n, H, W)) and the index of the fallback
(`fallback_index`, None if it was dropped). `map_hypothesis(belief)` is the map of largest weight,
the first on a tie (the hypotheses come in the order given, so hypotheses.py's simplest programs
first, and the fallback last).

numpy only; no torch, no Lightning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from neurobolts.datamodules.map_induction.grid_format import REWARD, UNOBSERVED

from .proposals import as_known_map, collected_mask, conflicts


@dataclass(frozen=True, eq=False)
class Belief:
    """A posterior over map hypotheses (module docstring)."""

    maps: np.ndarray  # int8 (n, H, W)
    weights: np.ndarray  # float64 (n,), > 0, sum 1
    reward_maps: np.ndarray  # bool (n, H, W): uncollected reward cells of each map
    fallback_index: int | None  # index of the "observed map only" hypothesis, None if dropped

    def __len__(self) -> int:
        return len(self.maps)


def posterior(known: Any, maps: Any, collected: Any = None, fallback: bool = True) -> Belief:
    """The belief over `maps` (n, H, W) given the observed map `known` (module docstring)."""
    known = as_known_map(known)
    if not isinstance(fallback, bool):
        raise ValueError(f"fallback must be a bool, got {fallback!r}")
    maps = np.asarray(maps)
    if maps.size == 0:
        maps = np.empty((0, *known.shape), dtype=np.int8)
    if maps.ndim != 3 or maps.shape[1:] != known.shape:
        raise ValueError(f"maps must be an array (n, H, W) of maps of the observed map's shape "
                         f"{known.shape}, got shape {maps.shape}")
    maps = np.stack([as_known_map(m, "maps") for m in maps]) if len(maps) else maps.astype(np.int8)
    not_collected = ~collected_mask(collected, known.shape)

    rewards = (maps == REWARD) & not_collected
    likely = ~conflicts(maps, known[None]).any(axis=(1, 2)) & rewards.any(axis=(1, 2))
    best: dict[bytes, int] = {}  # reward layout -> index of the kept hypothesis
    unobserved = (maps == UNOBSERVED).sum(axis=(1, 2))
    for i in np.flatnonzero(likely):
        key = np.packbits(rewards[i]).tobytes()
        if key not in best or unobserved[i] < unobserved[best[key]]:
            best[key] = int(i)
    kept = sorted(best.values())
    out_maps = [maps[i] for i in kept]
    out_rewards = [rewards[i] for i in kept]
    likelihoods = [1.0] * len(kept)

    observed_map_rewards = (known == REWARD) & not_collected
    fallback_likelihood = 1.0 - float((known == UNOBSERVED).mean())
    if (fallback and fallback_likelihood > 0.0) or not kept:
        out_maps.append(known)
        out_rewards.append(observed_map_rewards)
        likelihoods.append(fallback_likelihood if kept else 1.0)
    weights = np.array(likelihoods, dtype=np.float64)
    weights = weights / weights.sum()
    fallback_index = len(kept) if len(out_maps) > len(kept) else None
    return Belief(np.stack(out_maps).astype(np.int8), weights, np.stack(out_rewards), fallback_index)


def map_hypothesis(belief: Belief) -> np.ndarray:
    """A copy of the map of largest weight (the first on a tie)."""
    if not isinstance(belief, Belief) or len(belief) == 0:
        raise ValueError(f"belief must be a non-empty Belief, got {belief!r}")
    return belief.maps[int(np.argmax(belief.weights))].copy()

