"""GGS selection and metrics (docs/papers/ggs.md section 2.6, section 7 item 8, defect 8)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from neurobolts.lightning_modules.ggs.evaluation import (
    diversity,
    normalised_fitness,
    novelty,
    select_top,
    summarise,
)

AAV_RANGE = (0.0, 19.53646)


def _records() -> pd.DataFrame:
    rows = [  # (mutant, score, round)
        ("AAAC", 5.0, 1), ("AAAD", 1.0, 1),
        ("AACC", 2.0, 2),
        ("AAAC", 9.0, 3),  # regenerated in the last round after round 1: dropped by dedup-first
        ("ACCC", 3.0, 3), ("CCCC", 7.0, 3), ("ACCC", 4.0, 3), ("DCCC", 7.0, 3), ("AACC", 6.0, 3),
    ]
    return pd.DataFrame({"source_sequence": ["AAAA"] * len(rows), "mutant_sequence": [r[0] for r in rows],
                         "source_score": 0.0, "mutant_score": [r[1] for r in rows], "round": [r[2] for r in rows]})


def test_select_top_deduplicates_first_then_keeps_the_last_round():
    records = _records()
    # dedup keeps the first ACCC (3.0) and drops round-3 AAAC and AACC; ties (7.0) keep record order
    assert select_top(records) == ["CCCC", "DCCC", "ACCC"]
    assert select_top(records, top_k=2) == ["CCCC", "DCCC"]
    assert select_top(records.to_dict("records")) == ["CCCC", "DCCC", "ACCC"]
    assert select_top(records, last_round=2) == ["AACC"]
    assert select_top(records[records["round"] < 3]) == ["AACC"]  # default: the largest round present
    assert select_top(records, last_round=4) == []  # a last round without records: empty, the caller reports
    assert select_top(records.iloc[:0]) == [] and select_top([]) == []
    with pytest.raises(ValueError, match="top_k"):
        select_top(records, top_k=0)


def test_normalised_fitness_uses_the_full_range_and_may_exceed_one():
    values = normalised_fitness([0.0, 19.53646, 9.76823, 25.0], AAV_RANGE)
    # (x - min) / (max - min) in float64: one subtraction and one division, relative error ~2e-16
    np.testing.assert_allclose(values, [0.0, 1.0, 0.5, 25.0 / 19.53646], rtol=1e-12)
    with pytest.raises(ValueError, match="fitness_range"):
        normalised_fitness([1.0], (2.0, 2.0))


def test_diversity_is_the_mean_levenshtein_over_ordered_pairs():
    # d(AAAA, AAAT) = 1, d(AAAA, TTTT) = 4, d(AAAT, TTTT) = 3: ordered pairs 2 * 8 / 6
    # a mean of six integer distances: one float64 division, exact up to one rounding (~4e-16)
    assert diversity(["AAAA", "AAAT", "TTTT"]) == pytest.approx(16 / 6, abs=1e-12)
    assert diversity(["ACDEF", "CDEFA"]) == 2.0  # Levenshtein (delete + insert), Hamming would give 5
    assert diversity(["ACDE"]) == 0.0 and diversity([]) == 0.0


def test_novelty_is_the_min_levenshtein_to_the_training_set():
    train = ["AAAA", "CCCC"]
    assert novelty(["AAAA", "AACC", "ACCC", "DDDD", "AAAC"], train).tolist() == [0, 2, 1, 4, 1]
    assert novelty([], train).tolist() == []


def test_summarise_on_a_hand_made_set():
    sequences = ["AAAA", "AAAT", "TTTT"]
    oracle = [0.0, 19.53646 / 2, 19.53646]
    result = summarise(sequences, oracle, ["AAAA", "TTTA"], AAV_RANGE)
    # novelty: AAAA 0, AAAT min(1, 3) = 1, TTTT min(4, 1) = 1
    expected = {"median_fitness": 0.5, "mean_fitness": 0.5, "std_fitness": math.sqrt(1 / 6), "max_fitness": 1.0,
                "diversity": 16 / 6, "novelty": 1.0, "novelty_mean": 2 / 3, "num_selected": 3.0}
    assert result.keys() == expected.keys()
    for key, value in expected.items():
        # sums and medians of a few hand-made float64 values: exact up to a few ulps (~1e-15), bound 1e-12
        assert result[key] == pytest.approx(value, abs=1e-12), key
    empty = summarise([], [], ["AAAA"], AAV_RANGE)
    assert empty["num_selected"] == 0.0 and math.isnan(empty["median_fitness"])
    with pytest.raises(ValueError, match="oracle_scores"):
        summarise(sequences, [1.0], ["AAAA"], AAV_RANGE)
