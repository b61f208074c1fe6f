"""Scoring generated bump images against their conditions (diffusion_bumps spec, section 2.7).

1. local maxima above `threshold` (on the [0, 1] intensity scale) in a 3 x 3 neighbourhood; a
   plateau of equal maxima (e.g. from x0-clipping) counts as one peak (8-connected components);
2. each peak's centre is refined by the intensity-weighted centroid of a 5 x 5 window;
3. phase classes: A = not exactly one peak, B = one peak farther than `tolerance` pixels from the
   condition along x or y, C = one peak within `tolerance` along both axes.

Pure numpy/scipy/torch functions plus a torchmetrics accumulator; no Lightning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from torchmetrics import Metric

PHASE_A, PHASE_B, PHASE_C = 0, 1, 2


@dataclass(frozen=True)
class BumpScores:
    """Per-image scores of a batch of generated images."""

    num_peaks: torch.Tensor  # (n,) int64
    location: torch.Tensor  # (n, 2) float32 (x, y) of the strongest peak; NaN if no peak
    phase: torch.Tensor  # (n,) int64 in {PHASE_A, PHASE_B, PHASE_C}
    location_error: torch.Tensor  # (n,) float32 Euclidean error of `location`; NaN if no peak
    correct_x: torch.Tensor  # (n,) bool: exactly one peak, within tolerance of mu_x
    correct_y: torch.Tensor  # (n,) bool: exactly one peak, within tolerance of mu_y


def find_peaks(image: np.ndarray, threshold: float = 0.3, periodic: bool = False) -> list[tuple[float, float, float]]:
    """Peaks of one 2D image in [0, 1]: a list of (x, y, height), strongest first.

    x is the column and y the row coordinate, refined by a 5 x 5 intensity-weighted centroid
    (wrapping around the borders when periodic).
    """
    if image.ndim != 2:
        raise ValueError(f"find_peaks expects a 2D image, got shape {image.shape}")
    mode = "wrap" if periodic else "constant"
    local_max = ndimage.maximum_filter(image, size=3, mode=mode, cval=-np.inf)
    mask = (image >= local_max) & (image > threshold)
    structure = np.ones((3, 3), dtype=bool)
    labels, n = ndimage.label(mask, structure=structure)
    peaks = []
    rows, cols = image.shape
    for label in range(1, n + 1):
        ys, xs = np.nonzero(labels == label)
        best = np.argmax(image[ys, xs])
        r0, c0 = int(ys[best]), int(xs[best])
        dr, dc = np.meshgrid(np.arange(-2, 3), np.arange(-2, 3), indexing="ij")
        rr, cc = r0 + dr, c0 + dc
        if periodic:
            weights = image[rr % rows, cc % cols]
            valid = np.ones_like(weights, dtype=bool)
        else:
            valid = (rr >= 0) & (rr < rows) & (cc >= 0) & (cc < cols)
            weights = np.where(valid, image[np.clip(rr, 0, rows - 1), np.clip(cc, 0, cols - 1)], 0.0)
        weights = np.clip(weights, 0.0, None) * valid
        total = weights.sum()
        y = r0 + (weights * dr).sum() / total
        x = c0 + (weights * dc).sum() / total
        peaks.append((float(x), float(y), float(image[r0, c0])))
    peaks.sort(key=lambda p: -p[2])
    return peaks


def score_bumps(
    images: torch.Tensor,
    conditions: torch.Tensor,
    threshold: float = 0.3,
    tolerance: float = 1.0,
    periodic: bool = False,
) -> BumpScores:
    """Score generated images (n, 1, N, N) in [0, 1] against their (n, 2) conditions (mu_x, mu_y)."""
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"images must have shape (n, 1, N, N), got {tuple(images.shape)}")
    if conditions.shape != (images.shape[0], 2):
        raise ValueError(
            f"conditions must have shape ({images.shape[0]}, 2) to match images, got {tuple(conditions.shape)}"
        )
    arr = images[:, 0].detach().float().cpu().numpy()
    cond = conditions.detach().float().cpu().numpy()
    size = arr.shape[-1]
    n = arr.shape[0]
    num_peaks = np.zeros(n, dtype=np.int64)
    location = np.full((n, 2), np.nan, dtype=np.float32)
    for i in range(n):
        peaks = find_peaks(arr[i], threshold, periodic)
        num_peaks[i] = len(peaks)
        if peaks:
            location[i] = peaks[0][:2]
    delta = location - cond
    if periodic:
        delta = (delta + size / 2.0) % size - size / 2.0
    single = num_peaks == 1
    within_axis = np.abs(delta) <= tolerance  # NaN (no peak) compares False
    phase = np.where(~single, PHASE_A, np.where(within_axis.all(axis=1), PHASE_C, PHASE_B))
    error = np.sqrt((delta**2).sum(axis=1))
    return BumpScores(
        num_peaks=torch.from_numpy(num_peaks),
        location=torch.from_numpy(location),
        phase=torch.from_numpy(phase.astype(np.int64)),
        location_error=torch.from_numpy(error.astype(np.float32)),
        correct_x=torch.from_numpy(single & within_axis[:, 0]),
        correct_y=torch.from_numpy(single & within_axis[:, 1]),
    )


def first_step_at_least(steps: list[int], values: list[float], threshold: float) -> float:
    """The first step whose value is >= threshold (NaN when never reached)."""
    return float(next((s for s, v in zip(steps, values, strict=True) if v >= threshold), float("nan")))


def transition_width(steps: list[int], frac_c: list[float], low: float = 0.15, high: float = 0.75) -> float:
    """Steps from the last evaluation with C < low to the first with C > high after it (NaN if none)."""
    for i, c in enumerate(frac_c):
        if c > high:
            before = [steps[j] for j in range(i) if frac_c[j] < low]
            return float(steps[i] - before[-1]) if before else float("nan")
    return float("nan")


def phase_milestones(steps: list[int], frac_b: list[float], frac_c: list[float]) -> dict[str, float]:
    """Milestones of a phase curve: the step of the B peak, the first steps with C >= 0.5 and
    C >= 0.95 (NaN when never reached), whether B peaked strictly before C passed 0.5, and the width
    of the B -> C transition (C < 15 % to C > 75 %, spec oracle 6)."""
    if not (len(steps) == len(frac_b) == len(frac_c)):
        raise ValueError("steps, frac_b and frac_c must have the same length")
    nan = float("nan")
    if not steps:
        return {"step_B_peak": nan, "frac_B_peak": nan, "step_C50": nan, "step_C95": nan, "order_ABC": 0.0,
                "transition_width": nan}
    i_peak = int(np.argmax(frac_b))
    c50 = first_step_at_least(steps, frac_c, 0.5)
    c95 = first_step_at_least(steps, frac_c, 0.95)
    ordered = float(frac_b[i_peak] > 0 and not np.isnan(c50) and steps[i_peak] < c50)
    return {
        "step_B_peak": float(steps[i_peak]),
        "frac_B_peak": float(frac_b[i_peak]),
        "step_C50": float(c50),
        "step_C95": float(c95),
        "order_ABC": ordered,
        "transition_width": transition_width(steps, frac_c),
    }


class GenerationScores(Metric):
    """Accumulates phase counts and location errors over batches (summed across DDP ranks).

    `compute()` returns frac_A, frac_B, frac_C, loc_error (mean error of the single-peak samples,
    B and C; NaN if there are none) and the per-axis accuracies acc_x, acc_y (one peak, within
    tolerance along that axis).
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("phase_counts", default=torch.zeros(3, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("error_sum", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("error_count", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("axis_correct", default=torch.zeros(2, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, scores: BumpScores) -> None:
        phase = scores.phase.to(self.phase_counts.device)
        self.phase_counts += torch.bincount(phase, minlength=3).to(torch.float64)
        single = (scores.num_peaks == 1).to(self.error_sum.device)
        errors = scores.location_error.to(self.error_sum.device, torch.float64)
        self.error_sum += errors[single].sum()
        self.error_count += single.sum()
        correct = torch.stack([scores.correct_x, scores.correct_y]).to(self.axis_correct.device)
        self.axis_correct += correct.sum(dim=1).to(torch.float64)

    def compute(self) -> dict[str, torch.Tensor]:
        total = self.phase_counts.sum().clamp(min=1.0)
        fracs = (self.phase_counts / total).float()
        loc = self.error_sum / self.error_count if self.error_count > 0 else torch.tensor(float("nan"))
        acc = (self.axis_correct / total).float()
        return {"frac_A": fracs[0], "frac_B": fracs[1], "frac_C": fracs[2], "loc_error": loc.float(),
                "acc_x": acc[0], "acc_y": acc[1]}
