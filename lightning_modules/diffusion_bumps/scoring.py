"""Scoring generated bump images against their conditions (diffusion_bumps spec, section 2.7).

1. local maxima above `threshold` (on the [0, 1] intensity scale) in a 3 x 3 neighbourhood; a
   plateau of equal maxima (e.g. from x0-clipping) counts as one peak (8-connected components,
   joined across the borders when periodic), located at its centroid (the mean of its pixel
   coordinates);
2. each peak's centre is refined by the intensity-weighted centroid of the pixels within 2.5 px of
   it along each axis (the 5 x 5 window of a one-pixel peak, 6 px wide across a 2-px plateau);
3. shape check (`half_max_area`): the strongest blob must have the width of one bump of the data:
   its area at or above half the image's maximum (the 8-connected region holding the maximum), over
   the half-maximum area of one bump of the data's `sigma` (`sigma_y`), 2 pi ln 2 sigma sigma_y, must
   be <= `max_area` (2.4; 10 px for sigma 1). Clean training bumps: <= 1.38 (N = 16, sigma 1); two
   x0-clipped bumps 2 px apart (one plateau, one peak): 2.53; a saturated 6 x 6 square: 8.27; a bump
   of twice the width: ~4. Only too wide blobs fail: a bump cut by the border is smaller. The bound
   leaves the seeded default run's fractions nearly unchanged (generated one-peak samples: 95th
   percentile 2.07 at step 500);
4. phase classes: A = not exactly one peak, or a blob that fails the shape check; B = one bump
   farther than `tolerance` pixels from the condition along x or y; C = one bump within `tolerance`
   along both axes.

Pure numpy/scipy/torch functions plus a torchmetrics accumulator; no Lightning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from torchmetrics import Metric

PHASE_A, PHASE_B, PHASE_C = 0, 1, 2
MAX_AREA = 2.4  # the shape check's bound on `half_max_area` (module docstring)


@dataclass(frozen=True)
class BumpScores:
    """Per-image scores of a batch of generated images."""

    num_peaks: torch.Tensor  # (n,) int64
    location: torch.Tensor  # (n, 2) float32 (x, y) of the strongest peak; NaN if no peak
    phase: torch.Tensor  # (n,) int64 in {PHASE_A, PHASE_B, PHASE_C}
    location_error: torch.Tensor  # (n,) float32 Euclidean error of `location`; NaN if no peak
    correct_x: torch.Tensor  # (n,) bool: exactly one peak passing the shape check, within tolerance of mu_x
    correct_y: torch.Tensor  # (n,) bool: the same along mu_y
    area: torch.Tensor  # (n,) float32 `half_max_area` of the strongest peak; NaN if no peak or no check


def _window(centre: float, half: float, size: int, periodic: bool) -> tuple[np.ndarray, np.ndarray]:
    """Pixel indices within `half` of `centre` along one axis (unwrapped) and whether each is inside."""
    idx = np.arange(math.floor(centre - half), math.ceil(centre + half) + 1)
    idx = idx[np.abs(idx - centre) <= half + 1e-9]
    inside = np.ones(idx.shape, dtype=bool) if periodic else (idx >= 0) & (idx < size)
    return idx, inside


def _plateau_centre(coords: np.ndarray, size: int, periodic: bool) -> float:
    """Mean of a plateau's pixel coordinates along one axis (unwrapped around the first pixel if periodic)."""
    if periodic:
        coords = coords[0] + (coords - coords[0] + size / 2.0) % size - size / 2.0
    return float(coords.mean())


def _merge_across_borders(labels: np.ndarray) -> np.ndarray:
    """Joins the 8-connected components that touch across the borders of a periodic image."""
    parent = np.arange(labels.max() + 1)

    def root(a: int) -> int:
        while parent[a] != a:
            a = parent[a]
        return a

    for first, last in ((labels[0], labels[-1]), (labels[:, 0], labels[:, -1])):
        for shift in (-1, 0, 1):
            for a, b in zip(first, np.roll(last, shift), strict=True):
                if a and b:
                    parent[root(a)] = root(b)
    return np.array([root(a) for a in range(len(parent))])[labels]


def find_peaks(image: np.ndarray, threshold: float = 0.3, periodic: bool = False) -> list[tuple[float, float, float]]:
    """Peaks of one 2D image in [0, 1]: a list of (x, y, height), strongest first.

    x is the column and y the row coordinate: the centroid of the peak's plateau, refined by the
    intensity-weighted centroid of the pixels within 2.5 px of it along each axis (wrapping around
    the borders when periodic).
    """
    if image.ndim != 2:
        raise ValueError(f"find_peaks expects a 2D image, got shape {image.shape}")
    mode = "wrap" if periodic else "constant"
    local_max = ndimage.maximum_filter(image, size=3, mode=mode, cval=-np.inf)
    mask = (image >= local_max) & (image > threshold)
    structure = np.ones((3, 3), dtype=bool)
    labels, n = ndimage.label(mask, structure=structure)
    if periodic:
        labels = _merge_across_borders(labels)
    peaks = []
    rows, cols = image.shape
    for label in np.unique(labels[labels > 0]):
        ys, xs = np.nonzero(labels == label)
        yc, xc = _plateau_centre(ys, rows, periodic), _plateau_centre(xs, cols, periodic)
        rr, r_in = _window(yc, 2.5, rows, periodic)
        cc, c_in = _window(xc, 2.5, cols, periodic)
        weights = np.clip(image[np.ix_(rr % rows, cc % cols)], 0.0, None) * np.outer(r_in, c_in)
        total = weights.sum()
        y = float((weights.sum(axis=1) * rr).sum() / total)
        x = float((weights.sum(axis=0) * cc).sum() / total)
        if periodic:
            x, y = x % cols, y % rows
        peaks.append((x, y, float(image[ys, xs].max())))
    peaks.sort(key=lambda p: -p[2])
    return peaks


def half_max_area(
    image: np.ndarray, sigma: float, sigma_y: float | None = None, periodic: bool = False
) -> float:
    """Width check of the strongest blob: the pixels of the 8-connected region at or above half the
    image's maximum that holds the maximum, over the area of one bump of the data's width at half
    maximum (2 pi ln 2 sigma sigma_y px^2; 4.36 px^2 for sigma 1). About 1 for one bump."""
    sigma_y = sigma if sigma_y is None else sigma_y
    labels, _ = ndimage.label(image >= 0.5 * image.max(), structure=np.ones((3, 3), dtype=bool))
    if periodic:
        labels = _merge_across_borders(labels)
    top = labels[np.unravel_index(np.argmax(image), image.shape)]
    return float((labels == top).sum() / (2 * math.pi * math.log(2) * sigma * sigma_y))


def score_bumps(
    images: torch.Tensor,
    conditions: torch.Tensor,
    threshold: float = 0.3,
    tolerance: float = 1.0,
    periodic: bool = False,
    sigma: float | None = 1.0,
    sigma_y: float | None = None,
    max_area: float = MAX_AREA,
) -> BumpScores:
    """Score generated images (n, 1, N, N) in [0, 1] against their (n, 2) conditions (mu_x, mu_y).

    `sigma` (and `sigma_y`) must be the data's bump width: an image counts as one bump (phase B or C)
    only when it has exactly one peak and `half_max_area` is <= `max_area` (`sigma=None` skips the
    shape check).
    """
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
    area = np.full(n, np.nan, dtype=np.float32)
    for i in range(n):
        peaks = find_peaks(arr[i], threshold, periodic)
        num_peaks[i] = len(peaks)
        if peaks:
            location[i] = peaks[0][:2]
            if sigma is not None:
                area[i] = half_max_area(arr[i], sigma, sigma_y, periodic)
    delta = location - cond
    if periodic:
        delta = (delta + size / 2.0) % size - size / 2.0
    single = (num_peaks == 1) & ((area <= max_area) if sigma is not None else True)
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
        area=torch.from_numpy(area),
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


def axis_coupling(steps: list[int], acc_x: list[float], acc_y: list[float], frac_c: list[float],
                  level: float = 0.8) -> dict[str, float]:
    """When x and when y are learned (P1's imbalance claim, docs/papers/diffusion_bumps.md oracle 9): the
    first steps at which the per-axis accuracies reach `level`, their gap |step_y - step_x| and the
    B -> C transition width of `frac_c` (`transition_width`). Coupled = both reached and the gap at
    most half the transition width ("much less than"); NaN entries when a level is never reached."""
    step_x, step_y = first_step_at_least(steps, acc_x, level), first_step_at_least(steps, acc_y, level)
    width = transition_width(steps, frac_c)
    gap = abs(step_y - step_x)
    return {"step_x": step_x, "step_y": step_y, "gap": gap, "transition_width": width,
            "coupled": float(not math.isnan(gap) and not math.isnan(width) and gap <= width / 2)}


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

    `compute()` returns frac_A, frac_B, frac_C, loc_error (mean error of the one-bump samples,
    B and C; NaN if there are none) and the per-axis accuracies acc_x, acc_y (one bump, within
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
        single = (scores.phase != PHASE_A).to(self.error_sum.device)  # one bump: B or C
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
