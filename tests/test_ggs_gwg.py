"""GGS Gibbs-With-Gradients sampler and clustering rounds (docs/papers/ggs.md sections 2.5 and 7 items
6-7; defects 1, 2, 6 of section 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from neurobolts.datamodules.ggs.sequences import decode, encode, one_hot
from neurobolts.lightning_modules.ggs.gwg import GWGSampler, acceptance, local_differences, propose
from neurobolts.lightning_modules.ggs.rounds import reduce_by_clustering, run_gwg_rounds

S = 20


class Additive(torch.nn.Module):
    """f(x) = sum_i W[i, x_i]: first-order exact, so d(x) is the exact effect of each point mutation."""

    def __init__(self, weights: torch.Tensor) -> None:
        super().__init__()
        self.weights = weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.weights).sum(dim=(1, 2))


class SmallMLP(torch.nn.Module):
    """A nonlinear differentiable model over the flattened one-hot (the gradient is only first-order)."""

    def __init__(self, length: int, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(length * S, 32), torch.nn.Tanh(),
                                       torch.nn.Linear(32, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class Multilinear(torch.nn.Module):
    """f(x) = sum_{abc} T[a, b, c] x_0a x_1b x_2c: a lookup table over the 27 sequences of length 3
    over 3 letters, differentiable in the one-hot."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = table

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("abc,na,nb,nc->n", self.table, x[:, 0], x[:, 1], x[:, 2])


def random_tokens(n: int, length: int, seed: int) -> torch.Tensor:
    return torch.randint(S, (n, length), generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------------------ local differences
def test_local_differences_are_exactly_zero_at_current_tokens_and_match_the_gradient():
    tokens = random_tokens(16, 12, 0)
    model = SmallMLP(12)
    d, f = local_differences(model, tokens, S)
    assert d.shape == (16, 12, S) and f.shape == (16,)
    # exact: d at the current token is g - g of the same gathered float
    assert torch.equal(d.gather(-1, tokens.unsqueeze(-1)), torch.zeros(16, 12, 1))
    x = one_hot(tokens, S).requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x).sum(), x)
    expected = grad - (x * grad).sum(-1, keepdim=True)
    torch.testing.assert_close(d, expected.detach(), rtol=0, atol=1e-6)
    torch.testing.assert_close(f, model(one_hot(tokens, S)).detach())
    assert all(p.grad is None for p in model.parameters())

    weights = torch.randn(12, S, generator=torch.Generator().manual_seed(1))
    d_add, _ = local_differences(Additive(weights), tokens, S)
    exact = weights[None] - weights.gather(1, tokens.T).T[:, :, None]
    torch.testing.assert_close(d_add, exact, rtol=0, atol=1e-6)


def test_propose_draws_from_softmax_of_d_over_temperature():
    tokens = random_tokens(1, 4, 2)
    weights = torch.randn(4, S, generator=torch.Generator().manual_seed(3))
    d, _ = local_differences(Additive(weights), tokens, S)
    positions, letters, log_q = propose(d, tokens, 0.5, 200_000, torch.Generator().manual_seed(0))
    target = torch.softmax(d.reshape(-1).double() / 0.5, 0)
    torch.testing.assert_close(log_q[0], target.log()[positions[0] * S + letters[0]])
    counts = torch.bincount(positions[0] * S + letters[0], minlength=4 * S).double() / 200_000
    assert 0.5 * (counts - target).abs().sum() < 0.01  # 80 cells, 2e5 draws: expected TV ~ 0.005


# ------------------------------------------------------------------------------------- one step
@pytest.mark.parametrize("mode", ["textbook", "code"])
def test_step_mutants_are_hamming_one_noops_removed_and_acceptance_follows_the_rule(mode):
    length, n, proposals, temperature = 10, 6, 50, 2.0
    tokens = random_tokens(n, length, 4)
    model = SmallMLP(length, seed=1)
    sampler = GWGSampler(model, temperature=temperature, num_proposals=proposals, acceptance=mode, batch_size=7)
    result = sampler.step(tokens, torch.Generator().manual_seed(5))

    parents = tokens[result.parent_index]
    assert torch.equal((result.mutants != parents).sum(1), torch.ones(len(parents), dtype=torch.long))
    assert torch.equal(result.mutants.gather(1, result.positions[:, None])[:, 0], result.letters)
    # replay the same generator: the no-ops drawn are exactly the rows missing from the result
    generator = torch.Generator().manual_seed(5)
    d, f = local_differences(model, tokens, S)
    positions, letters, log_q_forward = propose(d, tokens, temperature, proposals, generator)
    noop = letters == tokens.gather(1, positions)
    assert noop.any() and len(result.accepted) == result.num_drawn - int(noop.sum()) == n * proposals - int(noop.sum())
    assert torch.equal(result.positions, positions[~noop]) and torch.equal(result.letters, letters[~noop])

    # acceptance recomputed independently from the textbook / reference formulas
    uniforms = torch.rand(len(result.accepted), generator=generator, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(result.mutant_scores, model(one_hot(result.mutants, S)))
        torch.testing.assert_close(result.parent_scores, f[result.parent_index])
    d_mutant, _ = local_differences(model, result.mutants, S)
    log_q_mutant = torch.log_softmax(d_mutant.reshape(len(d_mutant), -1).double() / temperature, 1)
    old = parents.gather(1, result.positions[:, None])[:, 0]
    read = old if mode == "textbook" else result.letters
    log_q_reverse = log_q_mutant.gather(1, (result.positions * S + read)[:, None])[:, 0]
    ratio = ((result.mutant_scores - result.parent_scores).double() + log_q_reverse - log_q_forward[~noop]).exp()
    alpha = ratio.clamp(max=1.0)
    expected = uniforms < alpha if mode == "textbook" else alpha < uniforms
    assert torch.equal(result.accepted, expected)


def test_uniform_proposal_ignores_the_gradient():
    weights = torch.zeros(5, S)
    weights[2, 7] = 100.0  # the gradient proposal would put all its mass here
    sampler = GWGSampler(Additive(weights), num_proposals=20_000, proposal="uniform", temperature=0.1)
    result = sampler.step(random_tokens(1, 5, 6), torch.Generator().manual_seed(0))
    counts = torch.bincount(result.positions * S + result.letters, minlength=5 * S).double()
    counts = counts[counts > 0]
    assert len(counts) == 5 * S - 5  # every entry but the 5 no-ops
    assert counts.max() / counts.mean() < 1.4  # ~210 draws per cell: 5 sd above the mean is ~1.35


def test_acceptance_rule_on_hand_values():
    parent, mutant = torch.tensor([0.0, 0.0, 0.0]), torch.tensor([1.0, -1.0, -1.0])
    zeros = torch.zeros(3, dtype=torch.float64)
    u = torch.tensor([0.99, 0.30, 0.40], dtype=torch.float64)  # alpha = 1, e^-1 = 0.368, 0.368
    assert acceptance(parent, mutant, zeros, zeros, u).tolist() == [True, True, False]
    assert acceptance(parent, mutant, zeros, zeros, u, "code").tolist() == [False, False, True]
    assert acceptance(0.0, -1.0, 0.0, 0.0, 0.30) and not acceptance(0.0, -1.0, 0.0, 0.0, 0.40)


# -------------------------------------------------------------------------------- stationarity
def _chain_tv(acceptance_mode: str, proposal: str, steps: int = 100_000) -> float:
    table = torch.randn(3, 3, 3, generator=torch.Generator().manual_seed(0))
    sampler = GWGSampler(Multilinear(table), num_states=3, temperature=1.0, acceptance=acceptance_mode,
                         proposal=proposal)
    chain = sampler.run_chain(torch.tensor([[0, 0, 0]]), steps, torch.Generator().manual_seed(1))
    assert chain.shape == (steps, 3)
    assert ((chain[1:] != chain[:-1]).sum(1) <= 1).all()  # point mutations only
    empirical = np.bincount((chain @ torch.tensor([9, 3, 1])).numpy(), minlength=27) / steps
    target = torch.softmax(table.reshape(-1).double(), 0).numpy()
    return float(0.5 * np.abs(empirical - target).sum())


@pytest.mark.parametrize("proposal", ["gradient", "uniform"])
def test_textbook_chain_samples_exp_f(proposal):
    assert _chain_tv("textbook", proposal) <= 0.05  # spec 7.7: 1e5 steps, TV <= 0.05 (measured ~0.01)


def test_code_mode_filter_does_not_sample_exp_f():
    """Defects 5.1 + 5.2: an improving move has alpha = 1 and is never kept, so the chain drifts down."""
    assert _chain_tv("code", "gradient") > 0.5  # measured ~0.997


# ------------------------------------------------------------------------------------ clustering
def test_reduce_by_clustering_keeps_the_best_member_of_each_cluster():
    centres = torch.tensor([[0] * 20, [5] * 20, [10] * 20])
    rows, generator = [], torch.Generator().manual_seed(0)
    for c in range(3):
        for _ in range(5):
            row = centres[c].clone()
            row[torch.randint(20, (1,), generator=generator)] = torch.randint(S, (1,), generator=generator)
            rows.append(row)
    tokens = torch.stack(rows)
    scores = torch.randn(15, generator=generator)
    kept = reduce_by_clustering(tokens, scores, 3)
    expected = sorted(int(torch.argmax(scores[5 * c:5 * c + 5])) + 5 * c for c in range(3))
    assert kept.tolist() == expected
    assert np.array_equal(reduce_by_clustering(tokens, scores, 3), kept)
    assert reduce_by_clustering(tokens, scores, 15).tolist() == list(range(15))
    assert len(reduce_by_clustering(tokens, scores, 7)) <= 7


# ---------------------------------------------------------------------------------------- rounds
def _rounds_problem():
    length = 12
    weights = torch.randn(length, S, generator=torch.Generator().manual_seed(10))
    start = random_tokens(40, length, 11)
    # training set = start set + every point mutant of a start sequence at positions 0-3
    mutants = start[:, None, None].repeat(1, 4, S, 1)
    mutants[:, torch.arange(4), :, torch.arange(4)] = torch.arange(S)
    train = torch.cat([start, mutants.reshape(-1, length)])
    true_scores = torch.randn(40, generator=torch.Generator().manual_seed(12))
    return Additive(weights), start, true_scores, train


def test_rounds_invariants_lineage_training_exclusion_and_seeding():
    model, start, true_scores, train = _rounds_problem()
    clusters, rounds = 8, 4
    # temperature 1: with unit-scale additive weights textbook MH at 0.1 accepts ~nothing (next test)
    sampler = GWGSampler(model, temperature=1.0, num_proposals=30)
    calls = []
    result = run_gwg_rounds(sampler, start, true_scores, train, rounds, clusters,
                            generator=torch.Generator().manual_seed(0), progress=lambda r, s: calls.append(r))
    records = result.records
    assert calls == [1, 2, 3, 4] and len(result.acceptance_rate) == rounds == len(result.cluster_centres)
    assert all(0.0 < rate <= 1.0 for rate in result.acceptance_rate)
    assert all(1 <= len(c) <= clusters for c in result.cluster_centres)
    # first Reduce used the TRUE scores
    first = reduce_by_clustering(start, true_scores, clusters)
    assert result.cluster_centres[0] == decode(start[first])
    assert sorted(records["round"].unique().tolist()) == [1, 2, 3, 4]
    train_strings = set(decode(train))
    assert not set(records["mutant_sequence"]) & train_strings
    # the exclusion was needed: the same first step does accept training sequences
    step = sampler.step(start[first], torch.Generator().manual_seed(0))
    assert set(decode(step.mutants[step.accepted])) & train_strings

    src, mut = encode(records["source_sequence"].tolist()), encode(records["mutant_sequence"].tolist())
    assert ((src != mut).sum(1) == 1).all()
    # lineage: every parent of round r is a round r-1 mutant (a start sequence for r = 1), so a
    # round-r candidate is <= r edits from its lineage start
    lineage = {s: {s} for s in decode(start)}  # candidate -> the start sequences of its lineages
    deepest = 0
    for r in range(1, rounds + 1):
        rows = records[records["round"] == r]
        assert set(rows["source_sequence"]) <= set(result.cluster_centres[r - 1]) <= set(lineage)
        following: dict[str, set[str]] = {}
        for source, mutant in zip(rows["source_sequence"], rows["mutant_sequence"], strict=True):
            following.setdefault(mutant, set()).update(lineage[source])
        lineage = following
        pairs = [(m, o) for m, origins in lineage.items() for o in origins]
        edits = (encode([m for m, _ in pairs]) != encode([o for _, o in pairs])).sum(1)
        assert (edits <= r).all()
        deepest = max(deepest, int(edits.max()))
    assert deepest > 1  # lineages did move more than once
    assert result.settings == {"temperature": 1.0, "acceptance": "textbook", "proposal": "gradient",
                               "num_proposals": 30, "rounds": 4, "clusters": 8, "seed": 0}

    again = run_gwg_rounds(sampler, start, true_scores, train, rounds, clusters, generator=torch.Generator().manual_seed(0))
    pd.testing.assert_frame_equal(records, again.records)
    other = run_gwg_rounds(sampler, start, true_scores, train, rounds, clusters, generator=torch.Generator().manual_seed(1))
    assert not records.equals(other.records)


def test_a_round_without_acceptance_keeps_its_parents():
    weights = torch.zeros(6, S)
    weights[:, 0] = 1000.0  # every mutation of the all-A sequence loses 1000: alpha = exp(-1000) = 0
    start = torch.zeros(1, 6, dtype=torch.long)
    sampler = GWGSampler(Additive(weights), temperature=1.0, num_proposals=10)
    result = run_gwg_rounds(sampler, start, torch.zeros(1), start, 2, 4, generator=torch.Generator().manual_seed(0))
    assert len(result.records) == 0 and list(result.records.columns)[-1] == "round"
    assert result.acceptance_rate == [0.0, 0.0] and result.cluster_centres == [["AAAAAA"], ["AAAAAA"]]


def test_code_mode_is_a_greedy_filter_where_textbook_mh_is_frozen():
    """Spec 5.2 (inferred there, measured here): on an additive model (d exact) at temperature 0.1 every
    proposal is a first-order gain; the reference's filter keeps them all, while textbook MH for exp(f)
    rejects them, since the reverse move has q(x | x') ~ exp(-gain / 0.1): alpha <~ exp(-9 gain)."""
    model, start, _, _ = _rounds_problem()
    accepted = {}
    for mode in ("textbook", "code"):
        step = GWGSampler(model, temperature=0.1, num_proposals=100, acceptance=mode).step(
            start, torch.Generator().manual_seed(0))
        assert (step.mutant_scores > step.parent_scores).float().mean() > 0.95
        accepted[mode] = float(step.accepted.float().mean())
    assert accepted["code"] > 0.95 and accepted["textbook"] < 0.05  # measured 1.0 and 0.0


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kwargs, field", [
    ({"temperature": 0.0}, "temperature"), ({"temperature": -1.0}, "temperature"),
    ({"num_proposals": 0}, "num_proposals"), ({"acceptance": "mh"}, "acceptance"),
    ({"proposal": "random"}, "proposal"), ({"batch_size": 0}, "batch_size"), ({"num_states": 1}, "num_states"),
])
def test_sampler_rejects_bad_settings(kwargs, field):
    with pytest.raises(ValueError, match=field):
        GWGSampler(SmallMLP(4), **kwargs)


def test_bad_tokens_clusters_and_scores_are_refused():
    model, start, true_scores, train = _rounds_problem()
    sampler = GWGSampler(model)
    with pytest.raises(ValueError, match="num_clusters"):
        run_gwg_rounds(sampler, start, true_scores, train, 2, 0, generator=torch.Generator())
    with pytest.raises(ValueError, match="num_clusters"):
        reduce_by_clustering(start, true_scores, 0)
    with pytest.raises(ValueError, match="start_scores"):
        run_gwg_rounds(sampler, start, true_scores[:3], train, 2, 4, generator=torch.Generator())
    with pytest.raises(ValueError, match="tokens"):
        sampler.step(torch.full((2, 12), S), torch.Generator())
    with pytest.raises(ValueError, match="temperature"):
        propose(torch.zeros(1, 2, S), torch.zeros(1, 2, dtype=torch.long), 0.0, 3, torch.Generator())
    with pytest.raises(ValueError, match="acceptance"):
        acceptance(0.0, 0.0, 0.0, 0.0, 0.5, "greedy")
