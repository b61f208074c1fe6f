"""Surprisal-driven fragmentation: decide when a stream of surprisal scores jumps relative to the
scores seen since the last fragmentation (docs/papers/farmap.md section 2.3; far_curiosity.md 2.2 and
the shared design note). One rule serves both papers because it works on SURPRISAL s:

- FARMap scores a map's confidence c in [0, 1]; feed s = 1 - c. Its `z` rule
  (mean_c - c_t) / std_c > rho is then (s_t - mean_s) / std_s > rho (std is unchanged by s = 1 - c),
  and its `ratio` rule (1 - c_t) / (1 - mean_c) > rho is s_t / mean_s > rho.
- FARCuriosity feeds the raw RND error e; its rules are inclusive: e >= 10 mean (ratio) and
  e - mean >= theta std (z). Pass `inclusive=True`.

The history is every score recorded since the last fragmentation (or since construction), the
current score excluded. No decision is taken before `min_history` scores are recorded (FARMap 26,
FARCuriosity 25), nor by the `z` and `ratio` rules while the sample std (ddof = 1) is <= `std_eps`
(1e-6). Running statistics are kept with Welford's update: O(1) time and memory per score.

Modes: `z` (s - mean) / std > threshold; `ratio` s / mean > threshold (mean must be > 0);
`random` fragments with probability `threshold` (own generator, seeded by `seed`); `uniform`
fragments on the `threshold`-th score since the last fragmentation (the count includes the current
score) - both also wait for `min_history` scores.

Pure Python + numpy: no torch, no Lightning.
"""

from __future__ import annotations

import math

import numpy as np

from neurobolts.plugins.checks import check_choice, check_int, check_number, check_positive

MODES = ("z", "ratio", "random", "uniform")


class SurprisalFragmenter:
    """Fragmentation decisions on a stream of surprisal scores (module docstring).

    Typical loop (FARMap): ``fragment = fragmenter.step(1.0 - confidence, decide=not travelling)``;
    `step` records the score and, when it decides to fragment, resets the history itself (the
    fragmenting score belongs to the old fragment and is not carried into the new one). Lower-level
    pieces for other loops: `should_fragment` (decision only; the `random` mode draws from its
    generator), `record` (add a score without deciding) and `reset`.

    Args:
        mode: one of `MODES`.
        threshold: rho / theta for `z` and `ratio` (a finite number), the probability in [0, 1] for
            `random`, the period (a number >= 1) for `uniform`.
        min_history: scores needed in the history before any decision (an integer >= 2 for `z`,
            >= 1 otherwise).
        inclusive: compare with >= instead of > (`z`, `ratio`); FARCuriosity uses >=, FARMap >.
        std_eps: no `z` / `ratio` decision while the history's sample std is <= std_eps.
        seed: seed of the generator of the `random` mode.
    """

    def __init__(self, mode: str = "z", threshold: float = 2.0, min_history: int = 26, *,
                 inclusive: bool = False, std_eps: float = 1e-6, seed: int | None = 0):
        self.mode = check_choice("mode", mode, MODES)
        if mode == "random":
            self.threshold = check_number("threshold", threshold, 0.0, 1.0,
                                          expected="a probability in [0, 1] for mode 'random'")
        elif mode == "uniform":
            self.threshold = check_number("threshold", threshold, 1.0,
                                          expected="a number >= 1 (a period in steps) for mode 'uniform'")
        else:
            self.threshold = check_number("threshold", threshold)
        self.min_history = check_int("min_history", min_history, 2 if mode == "z" else 1)
        if not isinstance(inclusive, (bool, np.bool_)):
            raise ValueError(f"inclusive must be a bool, got {inclusive!r}")
        self.inclusive = bool(inclusive)
        self.std_eps = check_positive("std_eps", std_eps)
        self.seed = check_int("seed", seed, 0, allow_none=True)
        self._rng = np.random.default_rng(self.seed)
        self.reset()

    # -- history ----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the history (after a fragmentation; `step` calls it itself)."""
        self.count = 0
        self.mean = 0.0
        self._m2 = 0.0

    @property
    def std(self) -> float:
        """Sample std (ddof = 1) of the history; nan with fewer than 2 scores."""
        if self.count < 2:
            return math.nan
        return math.sqrt(max(self._m2, 0.0) / (self.count - 1))

    def record(self, surprisal: float) -> None:
        """Add a score to the history without deciding (e.g. a step right after a recall)."""
        s = float(surprisal)
        if not math.isfinite(s):
            raise ValueError(f"surprisal must be a finite number, got {surprisal!r}")
        self.count += 1
        delta = s - self.mean
        self.mean += delta / self.count
        self._m2 += delta * (s - self.mean)

    # -- decision ---------------------------------------------------------------------------------
    def _exceeds(self, value: float, bound: float) -> bool:
        return value >= bound if self.inclusive else value > bound

    def should_fragment(self, surprisal: float) -> bool:
        """Whether `surprisal` triggers a fragmentation against the current history (no recording)."""
        s = float(surprisal)
        if not math.isfinite(s):
            raise ValueError(f"surprisal must be a finite number, got {surprisal!r}")
        if self.count < self.min_history:
            return False
        if self.mode == "random":
            return bool(self._rng.random() < self.threshold)
        if self.mode == "uniform":
            return self.count + 1 >= self.threshold
        std = self.std
        if not std > self.std_eps:
            return False
        if self.mode == "z":  # (s - mean) / std > threshold, written without the division
            return self._exceeds(s - self.mean, self.threshold * std)
        if self.mean <= 0.0:  # ratio: s / mean is undefined (non-negative surprisal: all scores 0)
            return False
        return self._exceeds(s, self.threshold * self.mean)

    def step(self, surprisal: float, *, decide: bool = True) -> bool:
        """Decide on `surprisal` (unless `decide` is False: the step is only recorded), then record it.
        On a fragmentation the history is reset and the score is not recorded; returns True."""
        if decide and self.should_fragment(surprisal):
            self.reset()
            return True
        self.record(surprisal)
        return False

    def __repr__(self) -> str:
        return (f"SurprisalFragmenter(mode={self.mode!r}, threshold={self.threshold!r}, "
                f"min_history={self.min_history}, inclusive={self.inclusive}, count={self.count})")
