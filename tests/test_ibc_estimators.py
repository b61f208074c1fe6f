"""Data estimators of the inductive-bias-complexity inputs (spec section 2.3, oracle 7.5) and the
synthetic sphere tasks (spec section 3)."""

from __future__ import annotations

import math

import pytest
import torch

from neurobolts.callbacks.inductive_bias.intrinsic_dimension import mle_intrinsic_dim, twonn_intrinsic_dim
from neurobolts.callbacks.inductive_bias.nearest_neighbours import knn_distances, min_interclass_distance
from neurobolts.callbacks.inductive_bias.task_resolution import (
    data_radius,
    extreme_value_resolution,
    sample_resolution,
)
from neurobolts.callbacks.inductive_bias.task_statistics import estimate_task_statistics
from neurobolts.datamodules.inductive_bias.sphere_tasks import (
    random_embedding,
    sample_sphere,
    sphere_classification_task,
)


def uniform_sphere(n: int, m: int, ambient: int | None = None, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = sample_sphere(n, m, g)
    return x if ambient is None else x @ random_embedding(m, ambient, g)


@pytest.fixture(scope="module")
def spheres():
    return {m: uniform_sphere(20000, m, ambient=16, seed=m) for m in (2, 4, 8)}


@pytest.mark.parametrize("m", [2, 4, 8])
def test_mle_within_ten_percent_on_uniform_spheres(spheres, m):
    est = mle_intrinsic_dim(spheres[m], k=5, num_queries=2000)
    assert abs(est - m) / m < 0.10, est


@pytest.mark.parametrize("m", [2, 4, 8])
def test_twonn_within_ten_percent_on_uniform_spheres(spheres, m):
    est = twonn_intrinsic_dim(spheres[m], num_queries=4000)
    assert abs(est - m) / m < 0.10, est


def test_mle_is_not_rounded_and_is_invariant_to_isometries():
    x = uniform_sphere(3000, 3, seed=1)
    a = mle_intrinsic_dim(x, num_queries=None)
    q, _ = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2)))
    b = mle_intrinsic_dim(x @ q.T * 7.0 + 1.5, num_queries=None)
    assert a != round(a) and a == pytest.approx(b, rel=1e-6)


def test_knn_matches_brute_force_for_any_chunking_and_skips_self_and_duplicates():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 7, dtype=torch.float64, generator=g)
    x[10] = x[3]  # an exact duplicate pair
    full = torch.cdist(x, x)
    full.fill_diagonal_(math.inf)
    full[full < 1e-9] = math.inf
    expected = torch.sort(full, dim=1).values[:, :4]
    for qc, pc in [(1024, 16384), (64, 100), (1, 300)]:
        got = knn_distances(x, 4, query_chunk=qc, point_chunk=pc)
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)
    assert got[3, 0] > 0 and got[10, 0] > 0


def test_min_interclass_distance_with_duplicate_guard():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(400, 5, dtype=torch.float64, generator=g) * 3
    y = torch.randint(0, 3, (400,), generator=g)
    # a differently labelled pair at distance 0.05, below the guard
    x[1] = x[0] + torch.tensor([0.05, 0, 0, 0, 0], dtype=torch.float64)
    y[0], y[1] = 0, 1
    d = torch.cdist(x, x)
    diff = y[:, None] != y[None, :]
    for guard in (0.0, 0.5):
        expected = d[diff & (d > guard)].min().item()
        for qc, pc in [(1024, 16384), (64, 100)]:
            got = min_interclass_distance(x, y, duplicate_distance=guard, query_chunk=qc, point_chunk=pc)
            assert got == pytest.approx(expected, rel=1e-9)
    assert min_interclass_distance(x, y) == pytest.approx(0.05, rel=1e-6)
    assert sample_resolution(x, y, None, duplicate_distance=0.5) > 0.5


def test_sample_resolution_on_a_subset_is_an_upper_bound():
    x, y = sphere_classification_task(3000, 3, 10, 3, margin=0.2, seed=0)
    full = sample_resolution(x, y, None)
    sub = sample_resolution(x, y, 500, seed=1)
    assert sub >= full >= 0.4 * (1 - 1e-6)


def test_evt_resolution_extrapolates_below_the_sampled_minimum():
    """EVT on a few random pairs lands closer to the true minimum over all pairs than the plain
    minimum of the same sampled pairs (log ratio, averaged over seeds)."""
    x, y = sphere_classification_task(2000, 2, 8, 2, margin=0.0, seed=3)
    x = x.double()
    true_min = min_interclass_distance(x, y)
    evt_err, sample_err = [], []
    for seed in range(4):
        evt = extreme_value_resolution(x, y, num_pairs=40000, k=400, seed=seed)
        g = torch.Generator().manual_seed(seed)
        i, j = torch.randint(2000, (200000,), generator=g), torch.randint(2000, (200000,), generator=g)
        keep = (y[i] != y[j])
        sampled = torch.linalg.vector_norm(x[i] - x[j], dim=1)[keep][:40000].min().item()
        assert evt <= sampled + 1e-12
        evt_err.append(abs(math.log(evt / true_min)))
        sample_err.append(abs(math.log(sampled / true_min)))
    assert sum(evt_err) < sum(sample_err), (evt_err, sample_err)


def test_radius():
    x = torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, -2.0]])
    assert data_radius(x) == 5.0


def test_sphere_task_has_its_margin_dimension_and_radius():
    x, y = sphere_classification_task(3000, 4, 20, 4, margin=0.4, radius=3.0, seed=0)
    assert x.shape == (3000, 20) and set(y.tolist()) == {0, 1, 2, 3}
    torch.testing.assert_close(torch.linalg.vector_norm(x.double(), dim=1), torch.full((3000,), 3.0, dtype=torch.float64),
                               rtol=1e-5, atol=1e-5)
    delta = min_interclass_distance(x.double(), y)
    assert 0.8 * (1 - 1e-5) <= delta < 1.2  # delta = 2 margin, approached by a finite sample
    # a larger margin gives a larger resolution
    x2, y2 = sphere_classification_task(3000, 4, 20, 4, margin=0.8, radius=3.0, seed=0)
    assert min_interclass_distance(x2.double(), y2) > min_interclass_distance(x.double(), y)
    assert abs(mle_intrinsic_dim(x, num_queries=None) - 4) < 0.6


def test_estimate_task_statistics_takes_given_values_and_estimates_the_rest():
    x, y = sphere_classification_task(2000, 3, 12, 3, margin=0.3, seed=2)
    s = estimate_task_statistics(x, y, intrinsic_dim=3, num_train=5000, num_queries=1000)
    assert s["n"] == 5000 and s["num_samples_used"] == 2000 and s["num_classes"] == 3
    assert s["intrinsic_dim"] == 3.0 and s["intrinsic_dim_source"] == "given"
    assert math.isnan(s["intrinsic_dim_mle"])
    assert s["radius"] == pytest.approx(3.0, rel=1e-5) and s["resolution"] >= 0.6 * (1 - 1e-5)
    assert s["resolution"] == s["resolution_estimate"] and s["resolution_source"] == "sample"
    e = estimate_task_statistics(x, y, num_queries=1000, resolution_method="evt", evt_pairs=20000, evt_k=200)
    assert e["intrinsic_dim_source"] == "mle" and e["intrinsic_dim"] == round(e["intrinsic_dim_mle"])
    assert e["resolution_source"] == "evt" and 0 < e["resolution"] <= s["resolution"] * 1.5


@pytest.mark.parametrize(
    "data, labels, kwargs, match",
    [
        (torch.tensor([[0.0, float("nan")], [1.0, 1.0], [2.0, 0.0]]), torch.tensor([0, 1, 0]), {},
         r"data contains NaN or infinite values \(1 of 3 samples\)"),
        (torch.randn(10, 3), torch.zeros(10, dtype=torch.long), {}, r"labels must contain at least 2 classes"),
        (torch.randn(1, 3), torch.tensor([0]), {}, r"data must hold at least 2 samples, got n=1"),
        (torch.randn(10, 3), torch.tensor([0, 1] * 4), {}, r"labels must have shape \(10,\)"),
        (torch.randn(10, 3), torch.tensor([0.5, 1.0] * 5), {}, r"labels must be integer class indices"),
        (torch.randn(10, 3), torch.tensor([0, 1] * 5), {"resolution_method": "kde"}, r"resolution_method must be one of"),
        (torch.randn(10, 3), torch.tensor([0, 1] * 5), {"num_classes": 1}, r"num_classes must be an integer >= 2"),
        (torch.randn(10, 3), torch.tensor([0, 1] * 5), {"intrinsic_dim": -2}, r"intrinsic_dim must be a finite number > 0"),
    ],
)
def test_bad_data_gets_a_clear_error(data, labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        estimate_task_statistics(data, labels, **kwargs)


def test_estimator_argument_errors():
    x = torch.randn(20, 3)
    with pytest.raises(ValueError, match="k must be an integer >= 2"):
        mle_intrinsic_dim(x, k=1)
    with pytest.raises(ValueError, match="more than k=5 samples"):
        mle_intrinsic_dim(x[:5])
    with pytest.raises(ValueError, match=r"discard_fraction must be a finite number in \[0, 1\), got 1.0"):
        twonn_intrinsic_dim(x, discard_fraction=1.0)
    with pytest.raises(ValueError, match="fewer than 3 distinct neighbours"):
        knn_distances(torch.zeros(5, 2, dtype=torch.float64).index_fill_(0, torch.tensor([0]), 1.0), 3)
    with pytest.raises(ValueError, match="margin must be a finite number in"):
        sphere_classification_task(10, 2, 5, 2, margin=5.0, radius=3.0)
