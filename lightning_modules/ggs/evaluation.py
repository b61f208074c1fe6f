"""Selection and metrics of a GGS sampling run (docs/papers/ggs.md section 2.6; defect 8 in section 5).

Selection (per seed, as the reference code does it): deduplicate the records on `mutant_sequence`
keeping the first occurrence, THEN keep only the last round, sort by the predicted score and take the
top 128. Because the deduplication comes first, a mutant first produced in an earlier round is
dropped even when the last round regenerates it.

Metrics on the selected sequences:
- fitness: oracle scores normalised by the full ground truth's range, (g - min) / (max - min), which
  may exceed 1; the headline is the MEDIAN (mean, std, max also reported);
- diversity: the MEAN Levenshtein distance over ordered pairs i != j (the paper's appendix says
  median; the code and the tables use the mean, defect 8);
- novelty: each sequence's minimum Levenshtein distance to the TASK TRAINING SET (not to the top
  sequences X*); the median is the headline, the mean is also reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from neurobolts.datamodules.ggs.sequences import levenshtein_matrix, min_levenshtein
from neurobolts.plugins.checks import check_int, check_number, check_positive_int

REQUIRED_COLUMNS = ("mutant_sequence", "mutant_score", "round")


def _records_frame(records: pd.DataFrame | Iterable[dict]) -> pd.DataFrame:
    frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing and len(frame):
        raise ValueError(f"records must have the columns {REQUIRED_COLUMNS}, missing {missing}")
    return frame


def select_top(records: pd.DataFrame | Iterable[dict], top_k: int = 128, *, last_round: int | None = None) -> list[str]:
    """The selected sequences of a run (module docstring): dedup on mutant_sequence (first occurrence
    kept), then the rows of `last_round` (default: the largest round present in `records`), sorted by
    mutant_score descending (stable: ties keep record order), at most `top_k`.

    Returns an empty list when there are no records or the last round has no row left after the
    deduplication (pass last_round=R to insist on round R of an R-round run); the caller reports it."""
    top_k = check_positive_int("top_k", top_k)
    frame = _records_frame(records)
    if len(frame) == 0:
        return []
    if last_round is None:
        last_round = int(frame["round"].max())
    else:
        last_round = check_int("last_round", last_round, 0)
    unique = frame.drop_duplicates(subset="mutant_sequence", keep="first")
    last = unique[unique["round"] == last_round]
    ranked = last.sort_values("mutant_score", ascending=False, kind="mergesort")
    return ranked["mutant_sequence"].head(top_k).tolist()


def normalised_fitness(scores: Sequence[float] | np.ndarray, fitness_range: tuple[float, float]) -> np.ndarray:
    """(g - min) / (max - min) with (min, max) = `fitness_range` of the full ground truth (spec 2.6:
    GFP 1.28342 - 4.12311, AAV 0.0 - 19.53646); values outside [0, 1] are kept."""
    low, high = (check_number("fitness_range[0]", fitness_range[0]), check_number("fitness_range[1]", fitness_range[1]))
    if not high > low:
        raise ValueError(f"fitness_range must be (min, max) with max > min, got {tuple(fitness_range)!r}")
    return (np.asarray(scores, dtype=np.float64) - low) / (high - low)


def diversity(sequences: Sequence[str]) -> float:
    """Mean Levenshtein distance over ordered pairs i != j; 0.0 for fewer than two sequences."""
    sequences = list(sequences)
    n = len(sequences)
    if n < 2:
        return 0.0
    distances = levenshtein_matrix(sequences, sequences).astype(np.float64)
    return float(distances.sum() / (n * (n - 1)))  # the diagonal is 0


def novelty(sequences: Sequence[str], train_sequences: Sequence[str]) -> np.ndarray:
    """Per sequence, the minimum Levenshtein distance to the training set (int64)."""
    sequences = list(sequences)
    if not sequences:
        return np.zeros(0, dtype=np.int64)
    return min_levenshtein(sequences, list(train_sequences))


def summarise(sequences: Sequence[str], oracle_scores: Sequence[float] | np.ndarray,
              train_sequences: Sequence[str], fitness_range: tuple[float, float]) -> dict[str, float]:
    """Metrics of the selected `sequences` with their oracle scores: median_fitness, mean_fitness,
    std_fitness (population std, ddof 0), max_fitness (normalised), diversity, novelty (median),
    novelty_mean and num_selected. With no sequences every metric is nan and num_selected 0."""
    sequences = list(sequences)
    scores = np.asarray(oracle_scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(sequences):
        raise ValueError(f"oracle_scores must hold one score per sequence ({len(sequences)}), got {len(scores)}")
    if not sequences:
        nan = float("nan")
        return {"median_fitness": nan, "mean_fitness": nan, "std_fitness": nan, "max_fitness": nan,
                "diversity": nan, "novelty": nan, "novelty_mean": nan, "num_selected": 0.0}
    fitness = normalised_fitness(scores, fitness_range)
    distances = novelty(sequences, train_sequences)
    return {"median_fitness": float(np.median(fitness)), "mean_fitness": float(np.mean(fitness)),
            "std_fitness": float(np.std(fitness)), "max_fitness": float(np.max(fitness)),
            "diversity": diversity(sequences), "novelty": float(np.median(distances)),
            "novelty_mean": float(np.mean(distances)), "num_selected": float(len(sequences))}
