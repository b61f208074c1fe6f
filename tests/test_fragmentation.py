"""SurprisalFragmenter (lightning_modules/common/fragmentation.py): the FARMap oracle 7.5 and the
FARCuriosity oracles 1-2 and the std guard, on surprisal scores."""

from __future__ import annotations

import numpy as np
import pytest

from neurobolts.lightning_modules.common import SurprisalFragmenter
from neurobolts.lightning_modules.common.fragmentation import MODES


def farmap(**kwargs) -> SurprisalFragmenter:
    return SurprisalFragmenter(**{"mode": "z", "threshold": 2.0, "min_history": 26, **kwargs})


def run(fragmenter: SurprisalFragmenter, scores) -> list[int]:
    """Indices of the scores that fragment."""
    return [i for i, s in enumerate(scores) if fragmenter.step(s)]


def noisy_confidences(n: int, seed: int = 0) -> np.ndarray:
    return 0.90 + np.random.default_rng(seed).uniform(-0.01, 0.01, n)


# -- FARMap oracle 7.5 (scores given as confidences c, surprisal 1 - c) ---------------------------
def test_farmap_drop_in_confidence_fragments():
    confidences = np.append(noisy_confidences(30), 0.50)
    assert run(farmap(), 1.0 - confidences) == [30]


def test_farmap_z_equals_the_confidence_rule():
    """(s - mean_s) / std_s on s = 1 - c is (mean_c - c) / std_c: the decision flips where the
    confidence z-score crosses rho."""
    confidences = noisy_confidences(40, seed=3)
    mean, std = confidences.mean(), confidences.std(ddof=1)
    for z, expected in ((2.0 + 1e-6, True), (2.0 - 1e-6, False), (1.0, False), (5.0, True)):
        fragmenter = farmap(min_history=40)
        for c in confidences:
            assert not fragmenter.step(1.0 - c)
        assert fragmenter.should_fragment(1.0 - (mean - z * std)) is expected, z


def test_farmap_needs_26_prior_scores():
    only_20 = np.append(noisy_confidences(20), 0.50)
    assert run(farmap(), 1.0 - only_20) == []
    # exactly 26 prior scores suffice, 25 do not
    assert run(farmap(), 1.0 - np.append(noisy_confidences(26), 0.50)) == [26]
    assert run(farmap(), 1.0 - np.append(noisy_confidences(25), 0.50)) == []


def test_farmap_no_fragmentation_within_26_steps_after_one():
    fragmenter = farmap()
    confidences = np.append(noisy_confidences(30), 0.50)
    assert run(fragmenter, 1.0 - confidences) == [30]
    assert fragmenter.count == 0  # reset; the fragmenting score starts no history
    # 26 steps that would each fragment against the old history (c = 0.40 / 0.39): none may
    for i in range(26):
        assert not fragmenter.step(1.0 - (0.40 if i % 2 else 0.39)), i
        assert fragmenter.count == i + 1
    assert fragmenter.step(1.0 - 0.10)  # the 27th step after the fragmentation may


def test_skipped_steps_are_recorded_but_not_decided():
    fragmenter = farmap()
    for c in noisy_confidences(30):
        fragmenter.step(1.0 - c)
    assert not fragmenter.step(0.5, decide=False)  # a recall / travelling step: recorded, no decision
    assert fragmenter.count == 31
    assert fragmenter.step(0.9)  # the next normal step decides again


# -- FARCuriosity oracles 1-2 (raw RND errors, inclusive rules) -----------------------------------
def farcuriosity_ratio() -> SurprisalFragmenter:
    return SurprisalFragmenter("ratio", 10.0, 25, inclusive=True)


def warm_errors(n: int = 25) -> np.ndarray:
    return 1.0 + np.random.default_rng(1).uniform(-0.02, 0.02, n)


@pytest.mark.parametrize(("error", "fragments"), [(10.5, True), (9.5, False)])
def test_farcuriosity_ratio_rule(error, fragments):
    fragmenter = farcuriosity_ratio()
    assert run(fragmenter, warm_errors()) == []
    assert fragmenter.step(error) is fragments


def test_farcuriosity_no_fragmentation_before_25_samples():
    for n in range(25):
        fragmenter = farcuriosity_ratio()
        assert run(fragmenter, [*warm_errors(n), 1000.0]) == [], n
    assert run(farcuriosity_ratio(), [*warm_errors(25), 1000.0]) == [25]


def test_ratio_inclusive_boundary():
    """e >= 10 mean (FARCuriosity) fires at equality, e > 10 mean does not. The history has an exact
    mean of 1.0 so that the boundary value 10.0 is exact."""
    history = [0.5, 1.5] * 16
    for inclusive, expected in ((True, True), (False, False)):
        fragmenter = SurprisalFragmenter("ratio", 10.0, 25, inclusive=inclusive)
        run(fragmenter, history)
        assert fragmenter.mean == 1.0
        assert fragmenter.should_fragment(10.0) is expected
        assert fragmenter.should_fragment(np.nextafter(10.0, 11.0))
        assert not fragmenter.should_fragment(np.nextafter(10.0, 9.0))


def test_farcuriosity_z_rule_uses_the_sample_std():
    """Fragment iff e - mu >= theta sigma, sigma with ddof = 1 (a population std would fire for
    values in between)."""
    errors = warm_errors(30)
    mu, sigma, sigma_pop = errors.mean(), errors.std(ddof=1), errors.std(ddof=0)
    fragmenter = SurprisalFragmenter("z", 2.0, 25, inclusive=True)
    run(fragmenter, errors)
    assert fragmenter.mean == pytest.approx(mu, abs=1e-12) and fragmenter.std == pytest.approx(sigma, rel=1e-9)
    assert fragmenter.should_fragment(mu + 2.0 * sigma * (1 + 1e-6))
    assert not fragmenter.should_fragment(mu + 2.0 * sigma * (1 - 1e-6))
    between = mu + 2.0 * (sigma + sigma_pop) / 2  # above theta * sigma_pop, below theta * sigma
    assert not fragmenter.should_fragment(between)


@pytest.mark.parametrize("mode", ["z", "ratio"])
def test_std_guard(mode):
    fragmenter = SurprisalFragmenter(mode, 2.0, 25)
    run(fragmenter, [0.3] * 30)  # std 0
    assert not fragmenter.should_fragment(100.0)
    fragmenter = SurprisalFragmenter(mode, 2.0, 25, std_eps=1e-6)
    run(fragmenter, [0.3, 0.3 + 1.8e-6] * 15)  # std ~1e-6: still guarded
    assert fragmenter.std <= 1e-6
    assert not fragmenter.should_fragment(100.0)
    fragmenter.record(0.2)  # std now well above the guard
    fragmenter.record(0.4)
    assert fragmenter.should_fragment(100.0)


def test_running_statistics_match_numpy():
    scores = np.random.default_rng(4).normal(0.3, 0.1, 500)
    fragmenter = SurprisalFragmenter("z", 1e9, 2)
    run(fragmenter, scores)
    assert fragmenter.count == 500
    assert fragmenter.mean == pytest.approx(scores.mean(), rel=1e-12)
    assert fragmenter.std == pytest.approx(scores.std(ddof=1), rel=1e-10)


# -- random and uniform ---------------------------------------------------------------------------
def test_uniform_fragments_every_period_after_min_history():
    assert run(SurprisalFragmenter("uniform", 10, 1), np.zeros(35)) == [9, 19, 29]
    # min_history also applies: the first decision waits for 26 recorded scores
    assert run(SurprisalFragmenter("uniform", 10, 26), np.zeros(60)) == [26, 53]


def test_random_is_seeded_and_has_the_right_rate():
    a = run(SurprisalFragmenter("random", 0.2, 1, seed=7), np.zeros(4000))
    b = run(SurprisalFragmenter("random", 0.2, 1, seed=7), np.zeros(4000))
    c = run(SurprisalFragmenter("random", 0.2, 1, seed=8), np.zeros(4000))
    assert a == b and a != c
    # each decision fires with p = 0.2, then the next one needs min_history = 1 recorded score
    rate = len(a) / 4000
    assert 0.13 < rate < 0.20
    assert run(SurprisalFragmenter("random", 0.0, 1), np.zeros(200)) == []
    assert run(SurprisalFragmenter("random", 1.0, 3), np.zeros(12)) == [3, 7, 11]


# -- errors ---------------------------------------------------------------------------------------
def test_unknown_mode_names_mode_and_the_choices():
    with pytest.raises(ValueError, match=r"mode must be one of \('z', 'ratio', 'random', 'uniform'\), got 'zz'"):
        SurprisalFragmenter("zz")
    assert MODES == ("z", "ratio", "random", "uniform")


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"min_history": 0}, "min_history"), ({"min_history": 1}, "min_history"),  # z needs 2 for a std
    ({"min_history": 2.0}, "min_history"), ({"threshold": float("nan")}, "threshold"),
    ({"mode": "random", "threshold": 1.5}, "threshold"), ({"mode": "uniform", "threshold": 0.5}, "threshold"),
    ({"inclusive": 1}, "inclusive"), ({"std_eps": 0.0}, "std_eps"), ({"seed": -1}, "seed"),
])
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must be .*, got "):
        SurprisalFragmenter(**{"mode": "z", **kwargs})


def test_non_finite_score_is_refused():
    fragmenter = farmap()
    with pytest.raises(ValueError, match="surprisal must be a finite number, got nan"):
        fragmenter.step(float("nan"))
    assert fragmenter.count == 0
