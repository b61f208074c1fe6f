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
    within = np.all(np.abs(delta) <= tolerance, axis=1)
    phase = np.where(num_peaks != 1, PHASE_A, np.where(within, PHASE_C, PHASE_B))
    error = np.sqrt((delta**2).sum(axis=1))
    return BumpScores(
        num_peaks=torch.from_numpy(num_peaks),
        location=torch.from_numpy(location),
        phase=torch.from_numpy(phase.astype(np.int64)),
        location_error=torch.from_numpy(error.astype(np.float32)),
    )


def phase_milestones(steps: list[int], frac_b: list[float], frac_c: list[float]) -> dict[str, float]:
    """Milestones of a phase curve: the step of the B peak, the first steps with C >= 0.5 and
    C >= 0.95 (NaN when never reached), and whether B peaked strictly before C passed 0.5."""
    if not (len(steps) == len(frac_b) == len(frac_c)):
        raise ValueError("steps, frac_b and frac_c must have the same length")
    nan = float("nan")
    if not steps:
        return {"step_B_peak": nan, "frac_B_peak": nan, "step_C50": nan, "step_C95": nan, "order_ABC": 0.0}
    i_peak = int(np.argmax(frac_b))
    c50 = next((s for s, c in zip(steps, frac_c, strict=True) if c >= 0.5), nan)
    c95 = next((s for s, c in zip(steps, frac_c, strict=True) if c >= 0.95), nan)
    ordered = float(frac_b[i_peak] > 0 and not np.isnan(c50) and steps[i_peak] < c50)
    return {
        "step_B_peak": float(steps[i_peak]),
        "frac_B_peak": float(frac_b[i_peak]),
        "step_C50": float(c50),
        "step_C95": float(c95),
        "order_ABC": ordered,
    }


class GenerationScores(Metric):
    """Accumulates phase counts and location errors over batches (summed across DDP ranks).

    `compute()` returns frac_A, frac_B, frac_C and loc_error (mean error of the single-peak
    samples, B and C; NaN if there are none).
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("phase_counts", default=torch.zeros(3, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("error_sum", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("error_count", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, scores: BumpScores) -> None:
        phase = scores.phase.to(self.phase_counts.device)
        self.phase_counts += torch.bincount(phase, minlength=3).to(torch.float64)
        single = (scores.num_peaks == 1).to(self.error_sum.device)
        errors = scores.location_error.to(self.error_sum.device, torch.float64)
        self.error_sum += errors[single].sum()
        self.error_count += single.sum()

    def compute(self) -> dict[str, torch.Tensor]:
        total = self.phase_counts.sum().clamp(min=1.0)
        fracs = (self.phase_counts / total).float()
        loc = self.error_sum / self.error_count if self.error_count > 0 else torch.tensor(float("nan"))
        return {"frac_A": fracs[0], "frac_B": fracs[1], "frac_C": fracs[2], "loc_error": loc.float()}
