"""The closed-form inductive-bias complexity (spec: docs/papers/inductive_bias_complexity.md, sections 2.2,
4 and the test oracles of section 7)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.special import binom, gamma

from neurobolts.callbacks.inductive_bias.difficulty import (
    TaskStatistics,
    cartpole_difficulty,
    classification_difficulty,
    control_difficulty,
    inductive_bias_complexity,
    meta_learning_difficulty,
    task_difficulty_bits,
    task_union,
    task_union_difficulty,
)

# Constants of the paper's script (spec section 4), shared with the reproduction report (`make reproduce`):
# TABLE = {name: (n, m, R, delta, target error, classes)}, the paper's bits, the Omniglot statistics;
# bits(name, **changes) = task_difficulty_bits of that task
from neurobolts.reproduce.inductive_bias import IMAGE_TASKS as TABLE
from neurobolts.reproduce.inductive_bias import OMNIGLOT
from neurobolts.reproduce.inductive_bias import PAPER_IMAGE_BITS as PAPER_BITS
from neurobolts.reproduce.inductive_bias import image_task_bits as bits


def direct_formula(error, n, m, radius, d, delta, out_dim, bound):
    """The spec's formula evaluated directly in float64 (independent of the log-space code)."""
    big_m = 2 * math.pi * radius / delta
    k = (math.sqrt((m - 1) ** 2 + 4 * big_m**2) - (m - 1)) / 2
    e = binom(m + k, m) + binom(m + k - 1, m)
    w = math.sqrt(m / 6) * (2 * math.pi ** ((m + 1) / 2) * d / gamma((m + 1) / 2)) ** (1 / m) * radius * n ** (-1 / m)
    lf = k * math.sqrt(out_dim) / radius
    b = math.log2(bound) + 0.5 * math.log2(out_dim) + 0.5 * math.log2(d) - math.log2(error) + math.log2(lf) + math.log2(w)
    return (2 * out_dim * d * e - n * out_dim) * b


@pytest.mark.parametrize("name", list(TABLE))
def test_paper_table_regression(name):
    assert bits(name) == pytest.approx(PAPER_BITS[name], rel=1e-3)


@pytest.mark.parametrize("name", ["MNIST", "SVHN", "CIFAR-10"])
def test_log_space_matches_the_direct_formula(name):
    n, m, r, delta, eps, c = TABLE[name]
    assert bits(name) == pytest.approx(direct_formula(eps, n, m, r, c, delta, c - 1, 1.0), rel=1e-9)


@pytest.mark.parametrize(
    "observation_dim, action_dim, expected",
    [(6, 2, 2.914e25), (15, 4, 7.613e58), (17, 6, 1.718e66)],
    ids=["Reacher", "Hopper", "Half-Cheetah"],
)
def test_mujoco_regression(observation_dim, action_dim, expected):
    got = control_difficulty(n=1e6, observation_dim=observation_dim, action_dim=action_dim,
                             resolution=1e-3, target_error=1e-3)
    assert got.bits == pytest.approx(expected, rel=1e-3)


def test_cartpole_regression_and_growth_per_observation():
    values = [cartpole_difficulty(num_observations=t).bits for t in range(1, 6)]
    # the spec gives 3 significant figures (4.41e9); the exact value is 4.4147e9 (rel. 1.06e-3 away)
    assert float(f"{values[0]:.3g}") == 4.41e9 and values[0] == pytest.approx(4.41e9, rel=1.2e-3)
    for got, expected in zip(values, [4.4e9, 3.3e17, 1.5e25, 4.7e32, 1.2e40], strict=True):
        assert float(f"{got:.2g}") == expected  # the spec's 2 significant figures
    ratios = np.log10(np.array(values[1:]) / np.array(values[:-1]))
    assert np.all((ratios > 7.4) & (ratios < 7.9)), ratios


def test_cartpole_is_the_control_form_with_two_dims_per_observation():
    for t in (1, 3):
        a = cartpole_difficulty(num_observations=t, n=500, resolution=0.01, target_error=0.05)
        b = control_difficulty(n=500, observation_dim=2 * t, action_dim=1, resolution=0.01, target_error=0.05)
        assert a.ln_bits == pytest.approx(b.ln_bits, rel=1e-12)


def test_omniglot_meta_learning_is_finite_and_hardest():
    omni = meta_learning_difficulty(**OMNIGLOT)
    assert omni.log10_bits == pytest.approx(math.log10(1.79e145), abs=0.01)
    assert 1e145 < omni.bits < 1e146  # no overflow: the log-space form keeps it finite
    # n is irrelevant at this scale ("insensitive" in the spec)
    assert meta_learning_difficulty(**{**OMNIGLOT, "n": 1e6}).log10_bits == pytest.approx(omni.log10_bits, abs=0.01)


def test_orderings_of_the_paper():
    order = [bits(name) for name in TABLE] + [meta_learning_difficulty(**OMNIGLOT).bits]
    assert order == sorted(order) and len(set(order)) == len(order)  # MNIST < SVHN < CIFAR < ImageNet < Omniglot
    rl = [control_difficulty(n=1e6, observation_dim=m, action_dim=d).bits for m, d in [(6, 2), (15, 4), (17, 6)]]
    assert rl == sorted(rl)  # Reacher < Hopper < Half-Cheetah
    assert bits("MNIST") < rl[0] < bits("SVHN")  # spec note: MNIST < Reacher < SVHN
    # fully observed Cartpole (T=1) is easier than partially observed (T>1)
    assert cartpole_difficulty(num_observations=1).bits < cartpole_difficulty(num_observations=2).bits


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"n": 100}, 3.62e41), ({"n": 10**19}, 3.46e41),
        ({"intrinsic_dim": 10}, 1.1e21), ({"intrinsic_dim": 20}, 7.8e28), ({"intrinsic_dim": 30}, 3.6e34),
        ({"intrinsic_dim": 60}, 5.0e44), ({"intrinsic_dim": 80}, 1.5e48), ({"intrinsic_dim": 99}, 1.1e50),
        ({"resolution": 30}, 1.9e57), ({"resolution": 120}, 7.1e29),
        ({"num_classes": 10}, 1.9e37), ({"num_classes": 100}, 2.8e39),
        ({"target_error": 0.97}, 3.11e41), ({"target_error": 0.0906}, 3.60e41),
    ],
)
def test_imagenet_sweeps(change, expected):
    """Blog Fig. 7 sweeps as recomputed in the spec (2-3 significant figures)."""
    assert bits("ImageNet", **change) == pytest.approx(expected, rel=0.05)


def test_monotone_in_each_statistic():
    ms = [bits("ImageNet", intrinsic_dim=m) for m in range(5, 100, 5)]
    assert np.all(np.diff(ms) > 0)
    cs = [bits("ImageNet", num_classes=c) for c in (2, 10, 100, 1000, 5000)]
    assert np.all(np.diff(cs) > 0)
    ds = [bits("ImageNet", resolution=d) for d in (10, 30, 65, 120, 400)]
    assert np.all(np.diff(ds) < 0)
    es = [bits("ImageNet", target_error=e) for e in (1e-6, 1e-3, 0.1, 0.5, 0.9)]
    assert np.all(np.diff(es) < 0)
    ns = [bits("ImageNet", n=n) for n in (10**2, 10**4, 10**6, 10**9, 10**15)]
    assert np.all(np.diff(ns) < 0)
    assert ns[-1] / ns[0] > 0.9  # only slowly
    # the error enters only logarithmically: bits are affine in log(error), 10x smaller adds a constant
    steps = np.diff([bits("ImageNet", target_error=e) for e in (1e-1, 1e-2, 1e-3, 1e-4)])
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)
    assert bits("ImageNet", target_error=1e-4) / bits("ImageNet", target_error=0.1) < 1.5


def test_log_bits_linear_in_m_at_fixed_frequency_cutoff():
    """Oracle 7.4: with M = 2 pi R / delta fixed and m << K, ln I grows about linearly in m."""
    radius, max_frequency = 10.0, 1e4
    delta = 2 * math.pi * radius / max_frequency
    ms = np.arange(2, 13)
    ln_bits = np.array([
        classification_difficulty(n=1000, intrinsic_dim=int(m), radius=radius, resolution=delta,
                                  target_error=0.01, num_classes=10).ln_bits for m in ms
    ])
    slope, intercept = np.polyfit(ms, ln_bits, 1)
    residual = ln_bits - (slope * ms + intercept)
    r2 = 1 - residual.var() / ln_bits.var()
    assert slope > 0 and r2 > 0.995, (slope, r2)
    # the per-dimension increment is close to ln K (= ln M here)
    assert np.diff(ln_bits).mean() == pytest.approx(math.log(max_frequency), rel=0.35)


@pytest.mark.parametrize("m", [2, 4, 8])
def test_log_bits_slope_in_log_frequency_tends_to_m(m):
    """Oracle 7.4: at fixed m and large M, d ln I / d ln M -> m (M grows as delta shrinks)."""
    radius = 10.0

    def ln_bits(max_frequency):
        return classification_difficulty(n=1000, intrinsic_dim=m, radius=radius,
                                         resolution=2 * math.pi * radius / max_frequency,
                                         target_error=0.01, num_classes=10).ln_bits

    slopes = [(ln_bits(f * 10) - ln_bits(f)) / math.log(10) for f in (1e2, 1e4, 1e7)]
    # the excess over m is d ln b / d ln M = 1 / (b ln 2) -> 0 (b grows like log2 M)
    assert abs(slopes[-1] - m) < 0.1, slopes
    assert abs(slopes[-1] - m) < abs(slopes[1] - m) < abs(slopes[0] - m)


def test_negative_bound_is_clamped_with_a_warning():
    """Spec 5.1 / oracle 7.6: n D >= dim Theta gives 0 bits and a flag, not a negative number."""
    args = dict(n=20000, intrinsic_dim=2, radius=3.0, resolution=1.0, target_error=0.01, num_classes=10)
    raw = direct_formula(0.01, 20000, 2, 3.0, 10, 1.0, 9, 1.0)
    assert raw < 0  # what the reference script would report
    with pytest.warns(RuntimeWarning, match="clamped to 0 bits"):
        got = classification_difficulty(**args)
    assert got.clamped and got.bits == 0.0 and got.log10_bits == -math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert task_difficulty_bits(**args) == 0.0


def test_bound_beyond_float64_keeps_its_logarithm():
    got = classification_difficulty(n=1000, intrinsic_dim=400, radius=1000.0, resolution=1.0,
                                    target_error=0.01, num_classes=10)
    assert got.bits == math.inf and 308 < got.log10_bits < 1e4


def test_task_union_statistics_and_difficulty():
    mnist = TaskStatistics(n=60000, intrinsic_dim=14, radius=17.179045827183984, num_classes=10)
    cifar = TaskStatistics(n=50000, intrinsic_dim=27, radius=54.9156786783691, num_classes=10)
    n, m, r, d = task_union(mnist, cifar)
    assert (n, m, d) == (3e9, 41, 100) and r == pytest.approx(math.sqrt(17.179045827183984**2 + 54.9156786783691**2))
    union = task_union_difficulty(mnist, cifar, resolution=2.3987084824335305, target_error=1e-3)
    expected = direct_formula(1e-3, n, m, r, d, 2.3987084824335305, 10, 1.0)
    assert union.bits == pytest.approx(expected, rel=1e-9)
    assert union.bits > bits("CIFAR-10") > bits("MNIST")


def test_general_form_with_output_bound():
    got = inductive_bias_complexity(n=100, intrinsic_dim=3, radius=2.0, resolution=0.1, target_error=0.05,
                                    num_discrete=1, output_dim=2, output_bound=4.0)
    assert got.bits == pytest.approx(direct_formula(0.05, 100, 3, 2.0, 1, 0.1, 2, 4.0), rel=1e-9)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"target_error": 0.0}, r"target_error must be a finite number in \(0, 1\), got 0.0"),
        ({"target_error": 1.0}, r"target_error must be a finite number in \(0, 1\), got 1.0"),
        ({"target_error": -0.1}, r"target_error .* got -0.1"),
        ({"target_error": float("nan")}, r"target_error .* got nan"),
        ({"n": 1}, r"n must be a finite number >= 2, got 1"),
        ({"num_classes": 1}, r"num_classes must be an integer >= 2, got 1"),
        ({"num_classes": 2.5}, r"num_classes must be an integer >= 2, got 2.5"),
        ({"num_classes": 2.0}, r"num_classes must be an integer >= 2, got 2.0"),
        ({"intrinsic_dim": 0}, r"intrinsic_dim must be a finite number > 0, got 0"),
        ({"radius": float("inf")}, r"radius must be a finite number > 0, got inf"),
        ({"resolution": -1.0}, r"resolution must be a finite number > 0, got -1.0"),
        ({"resolution": "wide"}, r"resolution must be a finite number > 0, got 'wide'"),
    ],
)
def test_bad_inputs_name_the_field(change, match):
    with pytest.raises(ValueError, match=match):
        bits("MNIST", **change)


def test_bad_rl_and_meta_inputs():
    with pytest.raises(ValueError, match="num_observations must be an integer >= 1, got 0"):
        cartpole_difficulty(num_observations=0)
    with pytest.raises(ValueError, match="target_error"):
        control_difficulty(n=1e6, observation_dim=6, action_dim=2, target_error=2.0)
    with pytest.raises(ValueError, match="ways must be an integer >= 2, got 1"):
        meta_learning_difficulty(**OMNIGLOT, ways=1)
