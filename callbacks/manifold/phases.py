"""The phase of a latent manifold during training, from its order metrics (pure; no Lightning).

`classify_phase(metrics, baseline)` labels a measurement of `callbacks/manifold/metrics.py`'s
`manifold_metrics` A (no structure beyond the initial one), B (structured, not yet ordered) or C
(ordered) relative to the step-0 baseline, with the thresholds of `PhaseRule`.
"""

from __future__ import annotations

from dataclasses import dataclass

PHASE_NAMES = ("A", "B", "C")


@dataclass(frozen=True)
class PhaseRule:
    """Thresholds of `classify_phase`, relative to the step-0 baseline.

    order_gain = (T - T0) / (1 - T0): the fraction of the trustworthiness gap left at step 0 that has
    been closed. pr_ratio = PR / PR0: the effective dimension relative to step 0.

    - C (ordered manifold): order_gain >= c_order_gain (0.98 closes 98 % of the initial gap).
    - B (structured, not yet ordered): not C, and either pr_ratio <= b_pr_ratio (the representation
      collapsed onto a few dimensions) or order_gain >= b_order_gain (half the gap closed: the
      manifold is re-expanding as it orders, between B and C).
    - A (no structure beyond the initial one): otherwise.

    Defaults are calibrated on the spec's CPU run (T0 = 0.85; T 0.91-0.99 in B, >= 0.997 once
    C >= 37 %; PR 8.9 at init, 1.8-2.8 in B) and on this project's seed-0 run of
    `experiment=diffusion_bumps` (T0 = 0.775, PR0 = 5.8; T 0.991 at the B peak with C = 3 %,
    0.9966 at C = 26 %; PR 1.95-2.4 in B): C is labelled once about a quarter of the samples are right.
    """

    c_order_gain: float = 0.98
    b_pr_ratio: float = 0.5
    b_order_gain: float = 0.5


def classify_phase(metrics: dict[str, float], baseline: dict[str, float], rule: PhaseRule = PhaseRule()) -> int:
    """0 = A, 1 = B, 2 = C for `metrics` measured against the step-0 `baseline` (both from
    `manifold_metrics`)."""
    for name, d in (("metrics", metrics), ("baseline", baseline)):
        missing = {"trustworthiness", "participation_ratio"} - set(d)
        if missing:
            raise ValueError(f"{name} lacks {sorted(missing)}; pass the output of manifold_metrics")
    t0 = baseline["trustworthiness"]
    gap = max(1.0 - t0, 1e-12)
    order_gain = (metrics["trustworthiness"] - t0) / gap
    pr0 = baseline["participation_ratio"]
    pr_ratio = metrics["participation_ratio"] / pr0 if pr0 > 0 else 1.0
    if order_gain >= rule.c_order_gain:
        return 2
    if pr_ratio <= rule.b_pr_ratio or order_gain >= rule.b_order_gain:
        return 1
    return 0
