"""The statistics the inductive-bias-complexity bound needs, from a classification data set
(no Lightning; spec 2.3 and 6): n, number of classes C, radius R, resolution delta and intrinsic
dimension m. Values the caller already knows are taken as given; the others are estimated.
The result is a dict of plain floats, ints and strings (checkpoint-safe with weights_only=True).
"""

from __future__ import annotations

import math

import torch

from neurobolts.callbacks.inductive_bias.intrinsic_dimension import mle_intrinsic_dim, twonn_intrinsic_dim
from neurobolts.callbacks.inductive_bias.nearest_neighbours import as_feature_matrix
from neurobolts.callbacks.inductive_bias.task_resolution import (
    as_labels,
    data_radius,
    extreme_value_resolution,
    sample_resolution,
)
from neurobolts.plugins.checks import check_choice, check_int, check_positive

RESOLUTION_METHODS = ("sample", "evt")


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
    check_choice("resolution_method", resolution_method, RESOLUTION_METHODS)
    x = as_feature_matrix(data)
    n_data = x.shape[0]
    if n_data < 2:
        raise ValueError(f"data must hold at least 2 samples, got n={n_data}")
    y = as_labels(labels, n_data)
    n = n_data if num_train is None else check_int(
        "num_train", num_train, n_data, expected=f"an integer >= the number of samples given ({n_data})")
    found_classes = int(torch.unique(y).numel())
    num_classes = found_classes if num_classes is None else check_int(
        "num_classes", num_classes, max(2, found_classes),
        expected=f"an integer >= 2 and >= the {found_classes} classes in the labels")
    stats: dict = {"n": int(n), "num_samples_used": int(n_data), "num_classes": int(num_classes)}

    given_radius = check_positive("radius", radius, allow_none=True)
    stats["radius"] = given_radius if given_radius is not None else data_radius(x)
    stats["radius_source"] = "given" if given_radius is not None else "data"

    given_delta = check_positive("resolution", resolution, allow_none=True)
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

    given_dim = check_positive("intrinsic_dim", intrinsic_dim, allow_none=True)
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
