"""GGS sampling rounds (docs/papers/ggs.md section 2.5, Alg. 1 and 3; code v2): X~_r = Reduce(X_r),
X_{r+1} = GWG(X~_r), where Reduce clusters the pool into at most C clusters (scipy average linkage on
Hamming distance, `fcluster(criterion="maxclust")`) and keeps the best-scoring member of each.

As in the reference (code v2): the start pool is the task's training set and the first Reduce uses
its TRUE scores; later pools carry the model's predictions. Candidates equal to a training sequence
are dropped (`max_visits: 1`). Each round applies at most one new mutation per lineage, so after R
rounds every candidate is at most R edits from the start sequence of its lineage.

Choices this implementation makes (the spec leaves them open):
- A round that accepts nothing keeps its parents (the reduced pool, with their scores) as the pool
  of the next round, so a run never dies out; its acceptance rate is recorded as 0.
- The acceptance rate of a round is accepted proposals / proposals that were not no-ops, measured
  before the training-set exclusion.
- `records` holds each distinct accepted (source, mutant) pair of a round once (identical draws
  from one parent are one row), parent by parent in draw order; `source_score` is the model's
  prediction of the parent (the value the acceptance test used), `mutant_score` its prediction of
  the mutant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

from neurobolts.datamodules.ggs.sequences import decode
from neurobolts.lightning_modules.ggs.gwg import GWGSampler
from neurobolts.plugins.checks import check_positive_int

RECORD_COLUMNS = ("source_sequence", "mutant_sequence", "source_score", "mutant_score", "round")
_RECORD_DTYPES = {"source_sequence": object, "mutant_sequence": object, "source_score": "float64",
                  "mutant_score": "float64", "round": "int64"}


@dataclass
class SamplingResult:
    """Everything a GGS sampling run produced.

    records: DataFrame with columns source_sequence, mutant_sequence, source_score, mutant_score,
    round (1-based); acceptance_rate[r - 1] and cluster_centres[r - 1]: the acceptance rate and the
    parents (cluster representatives) of round r; settings: temperature, acceptance, proposal,
    num_proposals, rounds, clusters, seed."""

    records: pd.DataFrame
    acceptance_rate: list[float] = field(default_factory=list)
    cluster_centres: list[list[str]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


def reduce_by_clustering(tokens: torch.Tensor, scores: torch.Tensor | np.ndarray, num_clusters: int) -> np.ndarray:
    """Indices (ascending) of at most `num_clusters` representatives of `tokens` (n, L): average-linkage
    hierarchical clustering on Hamming distance cut into <= num_clusters clusters, keeping the
    highest-scoring member of each (the first such index on ties). n <= num_clusters keeps all.
    Deterministic."""
    num_clusters = check_positive_int("num_clusters", num_clusters)
    array = np.asarray(tokens.cpu() if isinstance(tokens, torch.Tensor) else tokens)
    values = np.asarray(scores.detach().cpu() if isinstance(scores, torch.Tensor) else scores, dtype=np.float64)
    if array.ndim != 2 or values.shape != (array.shape[0],):
        raise ValueError(f"tokens (n, L) and scores (n,) must match, got {array.shape} and {values.shape}")
    n = array.shape[0]
    if n <= num_clusters:
        return np.arange(n)
    labels = fcluster(linkage(pdist(array, metric="hamming"), method="average"), t=num_clusters,
                      criterion="maxclust")
    order = np.lexsort((np.arange(n), -values, labels))  # by cluster, then best score, then index
    first = np.ones(n, dtype=bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    return np.sort(order[first])


def _row_keys(tokens: torch.Tensor) -> list[bytes]:
    array = np.ascontiguousarray(tokens.cpu().numpy().astype(np.int64))
    return [row.tobytes() for row in array]


def run_gwg_rounds(sampler: GWGSampler, start_tokens: torch.Tensor, start_scores: torch.Tensor | np.ndarray,
                   train_tokens: torch.Tensor, num_rounds: int = 10, num_clusters: int = 128, *,
                   generator: torch.Generator, progress: Callable[[int, dict[str, float]], None] | None = None
                   ) -> SamplingResult:
    """Run `num_rounds` rounds of Reduce + one GWG step (module docstring).

    start_scores are the TRUE scores of start_tokens (the first Reduce uses them); train_tokens are
    the sequences no candidate may equal. `progress(round, stats)` is called after each round with
    stats {"acceptance_rate", "accepted", "pool_size", "parents"}."""
    num_rounds = check_positive_int("num_rounds", num_rounds)
    num_clusters = check_positive_int("num_clusters", num_clusters)
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    pool = sampler.check_tokens(start_tokens, "start_tokens").cpu()
    pool_scores = torch.as_tensor(np.asarray(start_scores.detach().cpu() if isinstance(start_scores, torch.Tensor)
                                             else start_scores, dtype=np.float64))
    if pool_scores.shape != (pool.shape[0],):
        raise ValueError(f"start_scores must have shape ({pool.shape[0]},) to match start_tokens, "
                         f"got {tuple(pool_scores.shape)}")
    train = sampler.check_tokens(train_tokens, "train_tokens")
    if train.shape[1] != pool.shape[1]:
        raise ValueError(f"train_tokens must have length {pool.shape[1]} like start_tokens, got {train.shape[1]}")
    train_keys = set(_row_keys(train))

    frames, rates, centres = [], [], []
    for round_index in range(1, num_rounds + 1):
        keep = torch.from_numpy(reduce_by_clustering(pool, pool_scores, num_clusters))
        parents, parent_scores = pool[keep], pool_scores[keep]
        parent_strings = decode(parents)
        centres.append(parent_strings)
        result = sampler.step(parents, generator)
        accepted = result.accepted.cpu()
        rate = float(accepted.float().mean()) if len(accepted) else 0.0
        mutants = result.mutants.cpu()[accepted]
        keys = _row_keys(mutants)
        allowed = torch.tensor([k not in train_keys for k in keys], dtype=torch.bool)
        parent_index = result.parent_index.cpu()[accepted][allowed]
        mutants, mutant_scores = mutants[allowed], result.mutant_scores.cpu()[accepted][allowed]
        source_scores = result.parent_scores.cpu()[accepted][allowed]
        keys = [k for k, a in zip(keys, allowed.tolist(), strict=True) if a]

        seen_pairs, seen_mutants, rows, pool_rows = set(), {}, [], []
        for row, key in enumerate(keys):
            pair = (int(parent_index[row]), key)
            if pair in seen_pairs:
                continue
            seen_pairs.add(pair)
            rows.append(row)
            if key not in seen_mutants:
                seen_mutants[key] = row
                pool_rows.append(row)
        rows_t = torch.tensor(rows, dtype=torch.long)
        if rows:
            frames.append(pd.DataFrame({
                "source_sequence": [parent_strings[i] for i in parent_index[rows_t].tolist()],
                "mutant_sequence": decode(mutants[rows_t]),
                "source_score": source_scores[rows_t].double().numpy(),
                "mutant_score": mutant_scores[rows_t].double().numpy(),
                "round": round_index,
            }))
        if pool_rows:
            pool_t = torch.tensor(pool_rows, dtype=torch.long)
            pool, pool_scores = mutants[pool_t], mutant_scores[pool_t].double()
        else:  # nothing accepted: the parents carry over (module docstring)
            pool, pool_scores = parents, parent_scores
        rates.append(rate)
        if progress is not None:
            progress(round_index, {"acceptance_rate": rate, "accepted": float(len(rows)),
                                   "pool_size": float(pool.shape[0]), "parents": float(parents.shape[0])})

    records = (pd.concat(frames, ignore_index=True) if frames
               else pd.DataFrame({c: pd.Series(dtype=_RECORD_DTYPES[c]) for c in RECORD_COLUMNS}))
    settings = {"temperature": sampler.temperature, "acceptance": sampler.acceptance, "proposal": sampler.proposal,
                "num_proposals": sampler.num_proposals, "rounds": num_rounds, "clusters": num_clusters,
                "seed": generator.initial_seed()}
    return SamplingResult(records=records, acceptance_rate=rates, cluster_centres=centres, settings=settings)
