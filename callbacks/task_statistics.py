"""The statistics the inductive-bias-complexity bound needs, from a classification data set
(no Lightning; spec 2.3 and 6): n, number of classes C, radius R, resolution delta and intrinsic
dimension m. Values the caller already knows are taken as given; the others are estimated.
The result is a dict of plain floats, ints and strings (checkpoint-safe with weights_only=True).
"""

from __future__ import annotations

import math

import torch

from neurobolts.callbacks.intrinsic_dimension import mle_intrinsic_dim, twonn_intrinsic_dim
from neurobolts.callbacks.nearest_neighbours import as_feature_matrix
from neurobolts.callbacks.task_resolution import (
    as_labels,
    data_radius,
    extreme_value_resolution,
    sample_resolution,
)

RESOLUTION_METHODS = ("sample", "evt")


def optional_positive(name: str, value) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number > 0 or None, got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0 or None, got {value!r}")
    return v


def estimate_task_statistics(
    data,
    labels,
    *,
    intrinsic_dim: float | None = None,
    resolution: float | None = None,
    radius: float | None = None,
    num_classes: int | None = None,
    num_train: int | None = None,
    neighbours: int = 5,
    num_queries: int | None = 10_000,
    round_intrinsic_dim: bool = True,
    cross_check: bool = False,
    resolution_method: str = "sample",
    resolution_subset: int | None = 30_000,
    evt_pairs: int = 4_000_000,
    evt_k: int = 2000,
    duplicate_distance: float = 0.0,
    seed: int = 0,
) -> dict:
    """Statistics of the task given by `data` (n, ...) and integer `labels` (n,).

    `num_train` is the training-set size n when `data` is a subsample of it (default: len(data)).
    The intrinsic dimension used by the bound is the MLE (k = `neighbours`) rounded to an integer
    (as in the paper) unless `intrinsic_dim` is given; the raw MLE and TwoNN values are reported
    too when estimated (always with `cross_check=True`), and so is `resolution_estimate` (NaN when
    not computed).
    """
    if resolution_method not in RESOLUTION_METHODS:
        raise ValueError(f"resolution_method must be one of {RESOLUTION_METHODS}, got {resolution_method!r}")
    x = as_feature_matrix(data)
    n_data = x.shape[0]
    if n_data < 2:
        raise ValueError(f"data must hold at least 2 samples, got n={n_data}")
    y = as_labels(labels, n_data)
    n = n_data if num_train is None else num_train
    if isinstance(n, bool) or not isinstance(n, int) or n < n_data:
        raise ValueError(f"num_train must be an integer >= the number of samples given ({n_data}), got {num_train!r}")
    found_classes = int(torch.unique(y).numel())
    if num_classes is None:
        num_classes = found_classes
    elif isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < max(2, found_classes):
        raise ValueError(
            f"num_classes must be an integer >= 2 and >= the {found_classes} classes in the labels, got {num_classes!r}"
        )
    stats: dict = {"n": int(n), "num_samples_used": int(n_data), "num_classes": int(num_classes)}

    given_radius = optional_positive("radius", radius)
    stats["radius"] = given_radius if given_radius is not None else data_radius(x)
    stats["radius_source"] = "given" if given_radius is not None else "data"

    given_delta = optional_positive("resolution", resolution)
    stats["resolution_estimate"] = math.nan
    if given_delta is None or cross_check:
        if resolution_method == "sample":
            stats["resolution_estimate"] = sample_resolution(
                x, y, resolution_subset, duplicate_distance=duplicate_distance, seed=seed
            )
        else:
            stats["resolution_estimate"] = extreme_value_resolution(
                x, y, evt_pairs, evt_k, duplicate_distance=duplicate_distance, seed=seed
            )
    if given_delta is not None:
        stats["resolution"], stats["resolution_source"] = given_delta, "given"
    else:
        stats["resolution"], stats["resolution_source"] = stats["resolution_estimate"], resolution_method

    given_dim = optional_positive("intrinsic_dim", intrinsic_dim)
    stats["intrinsic_dim_mle"] = math.nan
    stats["intrinsic_dim_twonn"] = math.nan
    if given_dim is None or cross_check:
        stats["intrinsic_dim_mle"] = mle_intrinsic_dim(x, neighbours, num_queries, seed=seed)
        stats["intrinsic_dim_twonn"] = twonn_intrinsic_dim(x, num_queries=num_queries, seed=seed)
    if given_dim is not None:
        stats["intrinsic_dim"], stats["intrinsic_dim_source"] = given_dim, "given"
    else:
        raw = stats["intrinsic_dim_mle"]
        stats["intrinsic_dim"] = float(max(1, round(raw))) if round_intrinsic_dim else raw
        stats["intrinsic_dim_source"] = "mle"
    return stats
